// scripts/npm-fetch.sh, the one cache of npm-packaged runtimes the build scripts share: its layout
// (build/cache/<package>-<version>/ holding the package's own tree), that concurrent callers agree,
// --cached, and what it refuses. Run from a copy of the script in a temporary root, so the repo's own
// build/cache is not touched; the package is a small one npm ci already has in its cache.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = new URL('../../', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'sh-npmfetch-'));
mkdirSync(join(root, 'scripts'));
cpSync(join(repo, 'scripts/npm-fetch.sh'), join(root, 'scripts/npm-fetch.sh'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SPEC = 'ms@2.1.3';
const run = (...args: string[]) => spawnSync('bash', [join(root, 'scripts/npm-fetch.sh'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
const runAsync = (...args: string[]) =>
  new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const p = spawn('bash', [join(root, 'scripts/npm-fetch.sh'), ...args], { cwd: root });
    let stdout = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.on('close', (code) => resolve({ code, stdout }));
  });
const reachable = spawnSync('npm', ['pack', '--dry-run', '--silent', SPEC], { cwd: root, stdio: 'ignore', timeout: 60_000 }).status === 0;

describe('scripts/npm-fetch.sh', () => {
  it.each([
    ['a range', ['ms@^2.1.0', 'package.json']],
    ['a path for a package', ['../ms@2.1.3', 'package.json']],
    ['a URL', ['https://x.test/ms.tgz@1', 'package.json']],
    ['no version', ['ms', 'package.json']],
    ['a file outside the package', [SPEC, '../../etc/passwd']],
    ['an absolute file', [SPEC, '/etc/passwd']],
    ['one argument', [SPEC]],
  ])('refuses %s (exit 2, saying what it wants), fetching nothing', (_name, args) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^(npm-fetch: .* is not (PACKAGE@VERSION|a relative path inside the package)|usage: scripts\/npm-fetch\.sh)/);
    expect(existsSync(join(root, 'build'))).toBe(false);
  });

  it('--cached before any fetch: exit 1, nothing printed, nothing fetched', () => {
    const r = run('--cached', SPEC, 'package.json');
    expect([r.status, r.stdout]).toEqual([1, '']);
    expect(existsSync(join(root, 'build/cache'))).toBe(false);
  });

  it.skipIf(!reachable)('three callers at once: one layout, the same path for all, no half-made directory left', async () => {
    const want = join(root, 'build/cache/ms-2.1.3/package.json');
    const rs = await Promise.all([runAsync(SPEC, 'package.json'), runAsync(SPEC, 'package.json'), runAsync(SPEC, 'readme.md')]);
    expect(rs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(rs.map((r) => r.stdout.trim())).toEqual([want, want, join(root, 'build/cache/ms-2.1.3/readme.md')]);
    expect((JSON.parse(readFileSync(want, 'utf8')) as { version: string }).version).toBe('2.1.3');
    expect(readdirSync(join(root, 'build/cache'))).toEqual(['ms-2.1.3']);
    // Cached now: --cached answers without npm, and a file the package lacks is named.
    expect(run('--cached', SPEC, 'index.js').stdout.trim()).toBe(join(root, 'build/cache/ms-2.1.3/index.js'));
    const none = run(SPEC, 'bin/ms');
    expect([none.status, none.stderr.trim()]).toEqual([3, 'npm-fetch: ms@2.1.3 has no bin/ms (in build/cache/ms-2.1.3)']);
  }, 180_000);

  it.skipIf(!reachable)('a scoped package: the scope\'s @ dropped, its / as -', () => {
    const r = run('@types/ms@2.1.0', 'package.json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(root, 'build/cache/types-ms-2.1.0/package.json'));
  }, 120_000);
});
