// The fast path of bin/kubectl-multinic (src/cli/fast-help.ts): `--help`, `help`, no arguments and
// `version --client` print, byte for byte, what oclif prints for them, without loading oclif.
// Every invocation runs the real executable twice, fast (a --require probe reports that
// @oclif/core was never loaded) and with MULTINIC_FAST_HELP=0 (oclif itself, start-up cache off),
// and the two runs must agree on stdout, stderr and exit code: every command and topic of the
// manifest, at oclif's widths (80 when not a terminal, OCLIF_COLUMNS 40 and 132), with colour
// forced, and through `help COMMAND` with NO_COLOR. Then what must make it step aside does.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliBin, repoRoot } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mn-fast-help-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const probe = join(dir, 'probe.cjs');
writeFileSync(probe, `process.on('exit',()=>{if(process.env.PROBE_OUT)require('fs').writeFileSync(process.env.PROBE_OUT,String(Object.keys(require.cache).some((k)=>k.includes('@oclif/core'))))})\n`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  oclif: boolean;
}
let seq = 0;
function run(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = join(dir, `loaded-${seq++}`);
  // A clean environment: HOME without a theme or plugins, no caches, nothing of the caller's.
  const base = { PATH: process.env.PATH ?? '', HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), MULTINIC_STARTUP_CACHE: '0', NODE_DISABLE_COMPILE_CACHE: '1', PROBE_OUT: out };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', probe, cliBin, ...argv], { cwd: repoRoot, env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, oclif: readFileSync(out, 'utf8') === 'true' }));
  });
}

/** Runs `jobs` three at a time (each is a Node start-up; the machine is shared). */
async function pool<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return results;
}

const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
const ids = Object.keys(manifest.commands).map((id) => id.split(':'));
const topics = [...new Set(ids.filter((w) => w.length > 1).map((w) => w[0] as string))];

type Case = [string, string[], Record<string, string>];
const cases: Case[] = [
  ['root --help', ['--help'], {}],
  ['no arguments', [], {}],
  ['help', ['help'], {}],
  ['help --help', ['help', '--help'], {}],
  ['version --client', ['version', '--client'], {}],
  ...ids.map((w): Case => [`${w.join(' ')} --help`, [...w, '--help'], {}]),
  ...ids.map((w): Case => [`help ${w.join(' ')}`, ['help', ...w], {}]),
  ...topics.map((t): Case => [`${t} --help (topic)`, [t, '--help'], {}]),
  ...topics.map((t): Case => [`help ${t} (topic)`, ['help', t], {}]),
];
const envs: Array<Record<string, string>> = [{ OCLIF_COLUMNS: '40' }, { OCLIF_COLUMNS: '132' }, { FORCE_COLOR: '1' }];
for (const env of envs) {
  for (const argv of [['--help'], ['plan', '--help'], ['ipam', 'show', '--help'], ['lab', '--help'], ['help', 'lab', 'up'], ['apply', '--help']]) cases.push([`${argv.join(' ')} ${JSON.stringify(env)}`, argv, env]);
}
cases.push(['help plan with NO_COLOR and FORCE_COLOR', ['help', 'plan'], { NO_COLOR: '1', FORCE_COLOR: '1' }]);

describe('fast help', () => {
  it(`prints what oclif prints, without loading it: ${cases.length} invocations`, async () => {
    const runs = await pool(cases.flatMap(([, argv, env]) => [() => run(argv, env), () => run(argv, { ...env, MULTINIC_FAST_HELP: '0' })]));
    const mismatches: string[] = [];
    cases.forEach(([name], i) => {
      const fast = runs[2 * i] as Run;
      const full = runs[2 * i + 1] as Run;
      expect(full.oclif, name).toBe(true);
      expect(full.code, `${name}: ${full.stderr}`).toBe(0);
      expect(full.stdout.length, name).toBeGreaterThan(20);
      if (fast.oclif) mismatches.push(`${name}: loaded oclif`);
      if (fast.code !== full.code || fast.stdout !== full.stdout || fast.stderr !== full.stderr) mismatches.push(`${name}: output differs`);
    });
    expect(mismatches).toEqual([]);
    // The colour cases are coloured (bold section headers), so they test something.
    const coloured = cases.findIndex(([, , env]) => env['FORCE_COLOR'] === '1');
    expect((runs[2 * coloured] as Run).stdout).toContain('\x1b[1mUSAGE\x1b[22m');
  }, 300_000);

  it.each<[string, string[], Record<string, string>, (() => void)?]>([
    ['an unknown command (oclif says so)', ['nope', '--help'], {}],
    ['help with an unknown command', ['help', 'nope'], {}],
    ['a flag before --help', ['plan', '-o', 'json', '--help'], {}],
    ['version without --client', ['version', '-o', 'json', '--client'], {}],
    ['MULTINIC_FAST_HELP=0', ['--help'], { MULTINIC_FAST_HELP: '0' }],
    ['an oclif-scoped variable', ['--help'], { KUBECTL_MULTINIC_DISABLE_THEME: '1' }],
    ['an oclif variable', ['--help'], { OCLIF_PERFORMANCE: '1' }],
    ['DEBUG', ['--help'], { DEBUG: 'nothing' }],
    ['a user theme', ['plan', '--help'], { XDG_CONFIG_HOME: join(dir, 'themed') }, () => {
      mkdirSync(join(dir, 'themed', 'kubectl-multinic'), { recursive: true });
      writeFileSync(join(dir, 'themed', 'kubectl-multinic', 'theme.json'), '{"sectionHeader":"red"}');
    }],
    ['user plugins', ['version', '--client'], { XDG_DATA_HOME: join(dir, 'data') }, () => {
      mkdirSync(join(dir, 'data', 'kubectl-multinic'), { recursive: true });
      writeFileSync(join(dir, 'data', 'kubectl-multinic', 'package.json'), '{"private":true,"oclif":{"plugins":[]}}');
    }],
  ])('steps aside for %s: oclif runs', async (_name, argv, env, prepare) => {
    prepare?.();
    const r = await run(argv, env);
    expect(r.oclif).toBe(true);
    expect(r.code === 0 ? r.stdout.length : r.stderr.length).toBeGreaterThan(10);
  }, 60_000);
});
