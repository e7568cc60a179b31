// The light kubeconfig path: what each kubeconfig shape resolves to (server, namespace, TLS material,
// Authorization), which shapes fall back to client-node, the in-cluster service account with token
// rotation, and connect() end to end against the lab's API stand-in without importing client-node.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { contextName, inClusterConfig, loadKubeconfigFile, tokenFileReader, type ResolvedKubeconfig } from '../../src/kube/kubeconfig.js';
import { connect } from '../../src/kube/client.js';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { kubeconfigYaml } from '../../src/lab/kubeconfig.js';
import { R } from '../../src/lib/k8s/resources.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mnkc-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const p = join(dir, name);
  writeFileSync(
    p,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c1', cluster }, { name: 'c2', cluster: { server: 'https://other:6443' } }],
      users: [{ name: 'u1', user }, { name: 'u2', user: { token: 'other' } }],
      contexts: [{ name: 'ctx1', context: { cluster: 'c1', user: 'u1', namespace: 'team-a' } }, { name: 'ctx2', context: { cluster: 'c2', user: 'u2' } }],
      'current-context': 'ctx1',
      ...extra,
    }),
  );
  return p;
}
const resolved = (r: ResolvedKubeconfig | 'fallback'): ResolvedKubeconfig => {
  if (r === 'fallback') throw new Error('unexpected fallback');
  return r;
};

describe('loadKubeconfigFile', () => {
  it('token, CA data, current context and its namespace', () => {
    const r = resolved(loadKubeconfigFile(kubeconfig('token.yaml', { server: 'https://api:6443', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') }, { token: 'abc' })));
    expect([r.server, r.namespace, r.tls.ca?.toString(), r.tls.rejectUnauthorized, r.authorization()]).toEqual(['https://api:6443', 'team-a', 'CA PEM', true, 'Bearer abc']);
  });

  it('files relative to the kubeconfig, client certificate, insecure, tls-server-name, basic auth', () => {
    mkdirSync(join(dir, 'pki'), { recursive: true });
    writeFileSync(join(dir, 'pki', 'ca.crt'), 'CA');
    writeFileSync(join(dir, 'pki', 'u.crt'), 'CERT');
    writeFileSync(join(dir, 'pki', 'u.key'), 'KEY');
    const r = resolved(loadKubeconfigFile(kubeconfig('files.yaml', { server: 'https://api', 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' }, { 'client-certificate': 'pki/u.crt', 'client-key': join(dir, 'pki', 'u.key') })));
    expect([r.tls.ca?.toString(), r.tls.cert?.toString(), r.tls.key?.toString(), r.tls.servername, r.authorization()]).toEqual(['CA', 'CERT', 'KEY', 'kubernetes', undefined]);
    const insecure = resolved(loadKubeconfigFile(kubeconfig('insecure.yaml', { server: 'http://127.0.0.1:8001', 'insecure-skip-tls-verify': true }, { username: 'admin', password: 'pw' })));
    expect([insecure.tls.rejectUnauthorized, insecure.authorization()]).toEqual([false, `Basic ${Buffer.from('admin:pw').toString('base64')}`]);
  });

  it('--context picks another entry; an unknown one lists the available contexts', () => {
    const p = kubeconfig('ctx.yaml', { server: 'https://api' }, { token: 't' });
    expect(resolved(loadKubeconfigFile(p, 'ctx2')).server).toBe('https://other:6443');
    expect(() => loadKubeconfigFile(p, 'nope')).toThrow(`context "nope" not found in ${p}`);
  });

  it('exec plugins, auth providers, proxies and impersonation fall back to client-node', () => {
    expect(loadKubeconfigFile(kubeconfig('exec.yaml', { server: 'https://eks' }, { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws' } }))).toBe('fallback');
    expect(loadKubeconfigFile(kubeconfig('oidc.yaml', { server: 'https://x' }, { 'auth-provider': { name: 'oidc' } }))).toBe('fallback');
    expect(loadKubeconfigFile(kubeconfig('proxy.yaml', { server: 'https://x', 'proxy-url': 'socks5://p:1080' }, { token: 't' }))).toBe('fallback');
    expect(loadKubeconfigFile(kubeconfig('as.yaml', { server: 'https://x' }, { token: 't', as: 'someone' }))).toBe('fallback');
  });

  it('a file that is not a kubeconfig, a missing current cluster, an unreadable referenced file: clear errors', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '- just\n- a list\n');
    expect(() => loadKubeconfigFile(bad)).toThrow(`cannot read kubeconfig ${bad}: not a YAML mapping`);
    const none = join(dir, 'none.yaml');
    writeFileSync(none, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], contexts: [], users: [] }));
    expect(() => loadKubeconfigFile(none)).toThrow(`kubeconfig ${none} has no current cluster`);
    const missing = kubeconfig('missing-ca.yaml', { server: 'https://api', 'certificate-authority': 'nowhere/ca.crt' }, { token: 't' });
    expect(() => loadKubeconfigFile(missing)).toThrow(`cannot read kubeconfig ${missing}: ${join(dir, 'nowhere/ca.crt')}: ENOENT`);
    const noToken = kubeconfig('missing-token.yaml', { server: 'https://api' }, { tokenFile: 'nowhere/token' });
    expect(() => loadKubeconfigFile(noToken)).toThrow(`cannot read kubeconfig ${noToken}: ${join(dir, 'nowhere/token')}: ENOENT`);
  });
});

describe('service account credentials', () => {
  it('in-cluster: server from the environment (IPv6 bracketed), CA, namespace, token', () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'tok-1\n');
    writeFileSync(join(sa, 'ca.crt'), 'CLUSTER CA');
    writeFileSync(join(sa, 'namespace'), 'multinic-system');
    const r = inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect([r.server, r.namespace, r.tls.ca?.toString(), r.authorization()]).toEqual(['https://[fd00::1]:443', 'multinic-system', 'CLUSTER CA', 'Bearer tok-1']);
    expect(() => inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, join(dir, 'no-sa'))).toThrow(/in-cluster credentials unreadable in .*no-sa/);
  });

  it('a rotated token file is read again once the cached copy is a minute old', () => {
    const f = join(dir, 'rotating-token');
    writeFileSync(f, 'first');
    let t = 0;
    const read = tokenFileReader(f, 60_000, () => t);
    expect(read()).toBe('first');
    writeFileSync(f, 'second');
    t = 59_999;
    expect(read()).toBe('first');
    t = 60_000;
    expect(read()).toBe('second');
  });
});

describe('connect() on the light path', () => {
  let api: ApiServer;
  let proxy: Server;
  let proxyUrl: string;
  const authHeaders: string[] = [];
  beforeAll(async () => {
    api = await startApiServer({ port: 0 });
    // A transparent TCP proxy in front of the stand-in, to see the Authorization header sent.
    proxy = createServer((client) => {
      const upstream = netConnect(api.port, '127.0.0.1');
      client.on('data', (d: Buffer) => {
        const m = /\r\nauthorization: ([^\r]*)/i.exec(d.toString('latin1'));
        if (m) authHeaders.push(m[1] as string);
      });
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await api.close();
    await new Promise((r) => proxy.close(r));
  });

  it('talks to the API stand-in with the lab kubeconfig and sends the token', async () => {
    const p = join(dir, 'lab.yaml');
    writeFileSync(p, kubeconfigYaml(proxyUrl, { token: 'lab-token', namespace: 'kube-system' }));
    const k = await connect({ kubeconfig: p });
    expect(k.namespace).toBe('kube-system');
    const namespaces = await k.list(R.Namespace);
    expect(namespaces.items.map((n) => n.metadata?.name)).toContain('kube-system');
    expect(authHeaders).toContain('Bearer lab-token');
  });

  it('never loads client-node for such a kubeconfig (a resolve hook refuses it in a child process)', async () => {
    // Async: the stand-in serves from this process.
    const run = promisify(execFile);
    const p = join(dir, 'lab-child.yaml');
    writeFileSync(p, kubeconfigYaml(api.url));
    const hook = `export async function resolve(s, c, n) { if (s.includes('@kubernetes/client-node')) throw new Error('client-node was imported'); return n(s, c); }`;
    const script = [
      "import { register } from 'node:module';",
      `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`,
      `const { connect } = await import(${JSON.stringify(join(root, 'dist/kube/client.js'))});`,
      `const k = await connect({ kubeconfig: ${JSON.stringify(p)} });`,
      "const r = await k.list({ group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false });",
      'process.stdout.write(String(r.items.length));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(Number(stdout)).toBeGreaterThan(0);
    // The hook does bite: the exec-plugin kubeconfig takes client-node and fails in the child.
    const execCfg = kubeconfig('exec-child.yaml', { server: api.url }, { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'true' } });
    const failing = script.replace(JSON.stringify(p), JSON.stringify(execCfg));
    await expect(run(process.execPath, ['--input-type=module', '-e', failing], { encoding: 'utf8' })).rejects.toThrow(/client-node was imported/);
  });
});

describe('contextName (the ui status line)', () => {
  it('names the current-context kubectl would use: --kubeconfig, else the merged KUBECONFIG; undefined when unreadable', () => {
    const d = mkdtempSync(join(tmpdir(), 'mnctx-'));
    try {
      const a = join(d, 'a');
      const b = join(d, 'b');
      writeFileSync(a, stringify({ apiVersion: 'v1', kind: 'Config', contexts: [{ name: 'ctx-a', context: {} }] }));
      writeFileSync(b, stringify({ apiVersion: 'v1', kind: 'Config', 'current-context': 'ctx-b', contexts: [{ name: 'ctx-b', context: {} }] }));
      expect(contextName({ kubeconfig: b, env: {} })).toBe('ctx-b');
      // KUBECONFIG=a:b: a has no current-context, so b's wins (client-go's merge); missing files are skipped.
      expect(contextName({ env: { KUBECONFIG: `${join(d, 'missing')}:${a}:${b}` } })).toBe('ctx-b');
      expect(contextName({ kubeconfig: a, env: {} })).toBeUndefined();
      expect(contextName({ kubeconfig: join(d, 'missing'), env: {} })).toBeUndefined();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
