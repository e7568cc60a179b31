import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { complete, Directive, formatCompletion, type ManifestCommand } from '../../src/lib/complete.js';

const manifest = JSON.parse(readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8')) as { commands: Record<string, ManifestCommand> };
const commands = Object.values(manifest.commands);
const values = (args: string[]) => complete(commands, args, { lab: 'A simulated cluster' }).candidates.map((c) => c.value);

describe('complete (over the shipped manifest)', () => {
  it.each<[string[], string[]]>([
    [['st'], ['status']],
    [['lab', ''], ['down', 'status', 'up']],
    [['lab', 'u'], ['up']],
    [['status', '-o', ''], ['json', 'yaml', 'name', 'jsonpath', 'jsonpath-as-json', 'jsonpath-file', 'wide', 'table']],
    [['status', '--output=j'], ['--output=json', '--output=jsonpath', '--output=jsonpath-as-json', '--output=jsonpath-file']],
    [['version', '-o', ''], ['json', 'yaml', 'jsonpath', 'jsonpath-as-json', 'jsonpath-file', 'table']],
    [['check', '--pairs', 'r'], ['ring']],
    [['check', '--net'], ['--network']],
    [['status', '--wait', '--w'], []], // --wait is used already, and --watch cannot go with it
    [['status', '--w'], ['--wait', '--watch']],
    [['status', '-w', '--wa'], []],
  ])('%j -> %j', (args, want) => expect(values(args)).toEqual(want));

  it('top level: commands with their summaries, the lab topic with its own, hidden ones left out', () => {
    const c = complete(commands, [''], { lab: 'A simulated cluster' });
    expect(c.candidates.find((x) => x.value === 'lab')?.description).toBe('A simulated cluster');
    expect(c.candidates.find((x) => x.value === 'status')?.description).toMatch(/^Show networks/);
    expect(c.candidates.map((x) => x.value)).not.toContain('agent');
    expect(c.directive).toBe(Directive.NoFileComp);
  });

  it('names the caller must fetch: networks, nodes, contexts, namespaces; files for --kubeconfig and -f', () => {
    expect(complete(commands, ['status', 'multi'])).toMatchObject({ names: 'networks', prefix: 'multi' });
    expect(complete(commands, ['check', '--network', ''])).toMatchObject({ names: 'networks' });
    expect(complete(commands, ['status', '--context', 'la'])).toMatchObject({ names: 'contexts', prefix: 'la' });
    expect(complete(commands, ['status', '-n', ''])).toMatchObject({ names: 'namespaces' });
    expect(complete(commands, ['apply', '-f', ''])).toMatchObject({ directive: Directive.Default });
    expect(complete(commands, ['status', '--kubeconfig', ''])).toMatchObject({ directive: Directive.Default });
    // The positional after a flag value is still the first argument.
    expect(complete(commands, ['status', '-o', 'json', ''])).toMatchObject({ names: 'networks' });
    // A second positional: nothing to offer.
    const second = complete(commands, ['status', 'net', '']);
    expect(second.names).toBeUndefined();
    expect(second.candidates).toEqual([]);
  });

  it('formats cobra\'s protocol', () => {
    expect(formatCompletion({ candidates: [{ value: 'a', description: 'A' }, { value: 'b' }], directive: 4 })).toBe('a\tA\nb\n:4\n');
  });
});
