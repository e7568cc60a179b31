// The CLI's commands and flags are a contract with scripts and muscle memory: the surface read from
// oclif.manifest.json (rebuilt before the suite) must equal the checked-in command-snapshot.json. A
// command or flag that vanishes, changes its short form, type or values, or appears, fails here; after
// a deliberate change run `node scripts/command-snapshot.mjs --update` and commit the diff with it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { commandSnapshot } from '../scripts/command-snapshot.mjs';

const root = join(import.meta.dirname, '..');
const read = (name: string): unknown => JSON.parse(readFileSync(join(root, name), 'utf8'));
type Snapshot = Array<{ command: string; aliases?: string[]; flags: string[] }>;
const snapshotOf = commandSnapshot as (manifest: unknown) => Snapshot;

describe('command-snapshot.json', () => {
  it('matches the commands and flags in oclif.manifest.json (update: node scripts/command-snapshot.mjs --update)', () => {
    const live = snapshotOf(read('oclif.manifest.json'));
    const want = read('command-snapshot.json') as Snapshot;
    const lines = (s: Snapshot) => s.flatMap((c) => [`${c.command}`, ...(c.aliases ?? []).map((a) => `${c.command} alias ${a}`), ...c.flags.map((f) => `${c.command} ${f}`)]);
    const [have, expected] = [new Set(lines(live)), new Set(lines(want))];
    expect({ gone: [...expected].filter((l) => !have.has(l)), added: [...have].filter((l) => !expected.has(l)) }).toEqual({ gone: [], added: [] });
  });

  it('notices a flag that vanished (the comparison can fail)', () => {
    const manifest = read('oclif.manifest.json') as { commands: Record<string, { flags: Record<string, unknown> }> };
    const before = snapshotOf(manifest).find((c) => c.command === 'apply')!;
    delete manifest.commands['apply']!.flags['force'];
    const after = snapshotOf(manifest).find((c) => c.command === 'apply')!;
    expect(before.flags.filter((f) => !after.flags.includes(f))).toEqual(['--force (boolean)']);
  });
});
