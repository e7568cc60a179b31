// The start-up cache of bin/kubectl-multinic (src/cli/startup-cache.ts): help and `version --client`
// are served byte-identical to what the full CLI printed, without loading oclif, and only for the
// same invocation in the same context. Runs the real executable; a --require probe reports whether
// @oclif/core was loaded. The fast path (src/cli/fast-help.ts) serves these invocations first; the
// cache is what runs where it steps aside, so these runs turn it off (MULTINIC_FAST_HELP=0).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheable, cacheDir, startupKey, type StartupContext } from '../../src/cli/startup-cache.js';
import { cliBin, repoRoot } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mn-startup-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const probe = join(dir, 'probe.cjs');
const loadedFile = join(dir, 'loaded');
writeFileSync(probe, `process.on('exit',()=>require('fs').writeFileSync(${JSON.stringify(loadedFile)},String(Object.keys(require.cache).some((k)=>k.includes('@oclif/core')))))\n`);

function run(args: string[], env: Record<string, string> = {}, xdg = join(dir, 'xdg')): { code: number | null; stdout: string; stderr: string; oclif: boolean } {
  const r = spawnSync(process.execPath, ['--require', probe, cliBin, ...args], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir, XDG_CACHE_HOME: xdg, NO_COLOR: '1', MULTINIC_FAST_HELP: '0', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, oclif: readFileSync(loadedFile, 'utf8') === 'true' };
}
const entries = (xdg = join(dir, 'xdg')): string[] => {
  try {
    return readdirSync(join(xdg, 'kubectl-multinic', 'startup'));
  } catch {
    return [];
  }
};

describe('startup cache', () => {
  it.each([
    ['root help', ['--help'], true],
    ['command help', ['plan', '--help'], true],
    ['topic command help', ['lab', 'up', '--help'], true],
    ['help COMMAND', ['help', 'lab', 'up'], true],
    ['version --client', ['version', '--client'], true],
    ['version (asks the cluster)', ['version'], false],
    ['version --client -o json', ['version', '--client', '-o', 'json'], false],
    ['a command', ['plan', '-f', 'x.yaml'], false],
    ['help with a flag before it', ['plan', '-f', 'x', '--help'], false],
    ['nothing', [], false],
  ])('cacheable: %s', (_n, argv, want) => {
    expect(cacheable(argv)).toBe(want);
  });

  it('the key follows argv, stdout, the runtime and the environment, not the working directory', () => {
    const base: StartupContext = { argv: ['--help'], root: repoRoot, runtime: 'v24.0.0 linux x64', tty: false, columns: 80, env: { HOME: '/h', TERM: 'xterm', PWD: '/a' } };
    const k = startupKey(base);
    expect(startupKey({ ...base, env: { ...base.env, PWD: '/b', OLDPWD: '/a', SHLVL: '3' } })).toBe(k);
    for (const changed of [{ argv: ['plan', '--help'] }, { tty: true }, { columns: 120 }, { runtime: 'v24.1.0 linux x64' }, { env: { ...base.env, FORCE_COLOR: '1' } }, { env: { ...base.env, TERM: 'dumb' } }]) {
      expect(startupKey({ ...base, ...changed })).not.toBe(k);
    }
    // Another installation whose files differ only in content (npm and the krew archives pin mtimes).
    const other = join(dir, 'install');
    mkdirSync(other);
    copyFileSync(join(repoRoot, 'package.json'), join(other, 'package.json'));
    copyFileSync(join(repoRoot, 'oclif.manifest.json'), join(other, 'oclif.manifest.json'));
    const pin = (f: string): void => utimesSync(join(other, f), 0, 499162500); // npm's fixed mtime
    pin('package.json');
    pin('oclif.manifest.json');
    const before = startupKey({ ...base, root: other });
    expect(startupKey({ ...base, root: other })).toBe(before);
    // An upgrade in place: a version of the same length, the same pinned mtime.
    writeFileSync(join(other, 'package.json'), readFileSync(join(repoRoot, 'package.json'), 'utf8').replace(/"version": "(\d+)/, (_m, d: string) => `"version": "${(Number(d) + 1) % 10}`));
    pin('package.json');
    expect(statSync(join(other, 'package.json')).size).toBe(statSync(join(repoRoot, 'package.json')).size);
    expect(startupKey({ ...base, root: other })).not.toBe(before);
    expect(cacheDir({ MULTINIC_STARTUP_CACHE: '0', HOME: '/h' })).toBeUndefined();
    expect(cacheDir({ HOME: '/h' })).toBe('/h/.cache/kubectl-multinic/startup');
    expect(cacheDir({ HOME: '/h', XDG_CACHE_HOME: '/x' })).toBe('/x/kubectl-multinic/startup');
  });

  it.each([[['--help']], [['plan', '--help']], [['help', 'lab', 'up']], [['version', '--client']]])('%j: the second run prints the first run\'s bytes without loading oclif', (argv) => {
    const before = entries().length;
    const first = run(argv);
    expect(first.code).toBe(0);
    expect(first.oclif).toBe(true);
    expect(first.stdout.length).toBeGreaterThan(20);
    expect(entries().length).toBe(before + 1);
    const second = run(argv);
    expect(second.code).toBe(0);
    expect(second.oclif).toBe(false);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stderr).toBe('');
    // Another environment is another entry, printed by the full CLI.
    const other = run(argv, { COLUMNS_PROBE: 'x' });
    expect(other.oclif).toBe(true);
    expect(other.stdout).toBe(first.stdout);
  });

  it('is off with MULTINIC_STARTUP_CACHE=0, and keeps nothing from a failing run', () => {
    const xdg = join(dir, 'xdg-off');
    for (let i = 0; i < 2; i++) expect(run(['plan', '--help'], { MULTINIC_STARTUP_CACHE: '0' }, xdg).oclif).toBe(true);
    expect(entries(xdg)).toEqual([]);
    const bad = run(['nope', '--help'], {}, xdg);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/nope/);
    expect(entries(xdg)).toEqual([]);
    expect(run(['nope', '--help'], {}, xdg).oclif).toBe(true);
  });

  it('an unwritable cache directory only means the full CLI runs', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    const r = run(['version', '--client'], {}, file);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Client Version: /);
    expect(r.stderr).toBe('');
  });
});

describe('what a command loads for the cache', () => {
  // node:crypto costs about 15 ms to load on Node 24: no command loads it for the cache (the key is
  // a non-cryptographic hash, startupKey), so an offline plan and a cached help load none.
  const mods = join(dir, 'mods.cjs');
  const modsFile = join(dir, 'mods');
  writeFileSync(mods, `process.on('exit',()=>require('fs').writeFileSync(${JSON.stringify(modsFile)},process.moduleLoadList.join('\\n')))\n`);
  const loads = (args: string[]): { code: number | null; crypto: boolean } => {
    const r = spawnSync(process.execPath, ['--require', mods, cliBin, ...args], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir, XDG_CACHE_HOME: join(dir, 'xdg-mods'), NO_COLOR: '1', MULTINIC_FAST_HELP: '0' } });
    return { code: r.status, crypto: readFileSync(modsFile, 'utf8').split('\n').includes('NativeModule crypto') };
  };

  it('neither an offline plan nor a cached invocation loads node:crypto', () => {
    const plan = loads(['plan', '-f', 'examples/network.yaml', '--inventory', 'examples/hosts.yaml', '-o', 'json']);
    expect(plan.code).toBe(0);
    expect(plan.crypto).toBe(false);
    for (let i = 0; i < 2; i++) {
      const help = loads(['plan', '--help']);
      expect(help.code).toBe(0);
      expect(help.crypto).toBe(false);
      expect(entries(join(dir, 'xdg-mods')).length).toBe(1);
    }
  });
});

describe('the cache in front of the fast path', () => {
  // As shipped: the fast path on (no MULTINIC_FAST_HELP); the probe also says whether the fast
  // path's bundled help formatter was loaded.
  const fp = join(dir, 'fp.cjs');
  const fpFile = join(dir, 'fp');
  writeFileSync(fp, `process.on('exit',()=>require('fs').writeFileSync(${JSON.stringify(fpFile)},JSON.stringify(Object.keys(require.cache).map((k)=>k.includes('@oclif/core')?'oclif':k.endsWith('oclif-help.cjs')?'bundle':'').filter(Boolean))))\n`);
  const shipped = (args: string[], xdg: string, env: Record<string, string> = {}): { code: number | null; stdout: string; loaded: string[] } => {
    const r = spawnSync(process.execPath, ['--require', fp, cliBin, ...args], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir, XDG_CACHE_HOME: xdg, NO_COLOR: '1', ...env } });
    return { code: r.status, stdout: r.stdout, loaded: JSON.parse(readFileSync(fpFile, 'utf8')) as string[] };
  };

  it('what the fast path printed is kept, and the next identical run prints it without the help formatter', () => {
    const xdg = join(dir, 'xdg-fast');
    const first = shipped(['plan', '--help'], xdg);
    expect(first.code).toBe(0);
    expect(first.loaded).toEqual(['bundle']);
    expect(entries(xdg).length).toBe(1);
    const second = shipped(['plan', '--help'], xdg);
    expect(second.code).toBe(0);
    expect(second.loaded).toEqual([]);
    expect(second.stdout).toBe(first.stdout);
    // oclif's own output for the same invocation is the same bytes.
    expect(shipped(['plan', '--help'], join(dir, 'xdg-oclif'), { MULTINIC_FAST_HELP: '0', MULTINIC_STARTUP_CACHE: '0' }).stdout).toBe(first.stdout);
  });

  it('a user theme or user plugins added after a run make another key', () => {
    const home = join(dir, 'home-theme');
    const base: StartupContext = { argv: ['--help'], root: repoRoot, runtime: 'v24.0.0 linux x64', tty: false, columns: 80, env: { HOME: home } };
    const k = startupKey(base);
    mkdirSync(join(home, '.config', 'kubectl-multinic'), { recursive: true });
    writeFileSync(join(home, '.config', 'kubectl-multinic', 'theme.json'), '{"flag":"red"}');
    const themed = startupKey(base);
    expect(themed).not.toBe(k);
    writeFileSync(join(home, '.config', 'kubectl-multinic', 'theme.json'), '{"flag":"blue"}');
    expect(startupKey(base)).not.toBe(themed);
    mkdirSync(join(home, '.local', 'share', 'kubectl-multinic'), { recursive: true });
    writeFileSync(join(home, '.local', 'share', 'kubectl-multinic', 'package.json'), '{"oclif":{"plugins":["x"]}}');
    const plugins = startupKey(base);
    expect(new Set([k, themed, plugins]).size).toBe(3);
    expect(startupKey({ ...base, env: { HOME: home, XDG_DATA_HOME: join(home, 'elsewhere') } })).not.toBe(plugins);
  });
});
