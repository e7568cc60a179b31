// The runnable entry exactly as shipped (`node dist/lab/apiserver/main.js`, built by the vitest
// globalSetup): prints its URL, writes a working kubeconfig, exits 0 on SIGTERM, and refuses a bad
// port with exit 2.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const entry = 'dist/lab/apiserver/main.js';
let dir: string;

beforeAll(() => {
  expect(existsSync(entry), `${entry} missing: the globalSetup build did not run`).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'mn-apiserver-main-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('apiserver main', () => {
  it('prints its URL, serves the kubeconfig it wrote, and exits 0 on SIGTERM', async () => {
    const kubeconfig = join(dir, 'kc');
    const child = spawn(process.execPath, [entry, '--port', '0', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before printing its URL`)));
    });
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      expect(kc.getCurrentCluster()?.server).toBe(url);
      const names = (await kc.makeApiClient(CoreV1Api).listNamespace()).items.map((n) => n.metadata?.name);
      expect(names).toEqual(['default', 'kube-node-lease', 'kube-public', 'kube-system']);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('exits 2 with a usage message on a bad port', () => {
    const r = spawnSync(process.execPath, [entry, '--port', 'eighty'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('invalid --port "eighty"');
  });
});
