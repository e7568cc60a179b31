// KUBECONFIG=a:b merged as kubectl merges it (client-go's loading rules: first definition and first
// current-context win, missing files skipped, relative paths per defining file), checked against the
// installed kubectl's own `kubectl config view --merge --minify --flatten` on several layouts, and
// connect() reaching the cluster kubectl would reach without importing client-node.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeconfig, type ResolvedKubeconfig } from '../../src/kube/kubeconfig.js';
import { connect, kubeconfigFiles } from '../../src/kube/client.js';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { kubeconfigYaml } from '../../src/lab/kubeconfig.js';
import { R } from '../../src/lib/k8s/resources.js';

const kubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mnkcm-'));
  mkdirSync(join(dir, 'b-dir', 'pki'), { recursive: true });
  writeFileSync(join(dir, 'b-dir', 'pki', 'ca.crt'), 'CA OF B\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Doc {
  clusters?: Array<{ name: string; cluster: Record<string, unknown> }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: Record<string, unknown> }>;
  'current-context'?: string;
}
function write(rel: string, d: Doc): string {
  const p = join(dir, rel);
  writeFileSync(p, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [], ...d }));
  return p;
}

/** What the plugin resolves and what kubectl resolves, in the same terms. */
interface Seen {
  server: string;
  namespace?: string;
  token?: string;
  ca?: string;
}
function ours(env: string, context?: string): Seen {
  const { files } = kubeconfigFiles({}, { KUBECONFIG: env });
  const r = loadKubeconfig(files, context);
  if ('fallback' in r) throw new Error('unexpected fallback');
  const rr = r as ResolvedKubeconfig;
  const auth = rr.authorization();
  return { server: rr.server, ...(rr.namespace ? { namespace: rr.namespace } : {}), ...(auth ? { token: auth.replace(/^Bearer /, '') } : {}), ...(rr.tls.ca ? { ca: rr.tls.ca.toString('base64') } : {}) };
}
function theirs(env: string, context?: string): Seen {
  const out = execFileSync('kubectl', ['config', 'view', '--merge', '--minify', '--flatten', '-o', 'json', ...(context ? ['--context', context] : [])], {
    env: { PATH: process.env['PATH'], HOME: dir, KUBECONFIG: env },
    encoding: 'utf8',
  });
  const v = JSON.parse(out) as Doc;
  const c = v.clusters?.[0]?.cluster ?? {};
  const ns = v.contexts?.[0]?.context['namespace'];
  const token = v.users?.[0]?.user['token'];
  const ca = c['certificate-authority-data'];
  return { server: String(c['server']), ...(typeof ns === 'string' ? { namespace: ns } : {}), ...(typeof token === 'string' ? { token } : {}), ...(typeof ca === 'string' ? { ca } : {}) };
}
const list = (...files: string[]): string => files.join(delimiter);

describe.skipIf(!kubectl)('merged KUBECONFIG resolves the entry kubectl resolves (needs the kubectl binary)', () => {
  let a: string;
  let b: string;
  beforeAll(() => {
    a = write('a.yaml', {
      clusters: [{ name: 'shared', cluster: { server: 'https://a-shared:6443' } }, { name: 'only-a', cluster: { server: 'https://only-a:6443' } }],
      users: [{ name: 'admin', user: { token: 'token-a' } }],
      contexts: [{ name: 'prod', context: { cluster: 'shared', user: 'admin', namespace: 'ns-a' } }],
      'current-context': 'prod',
    });
    b = write('b-dir/b.yaml', {
      clusters: [
        { name: 'shared', cluster: { server: 'https://b-shared:6443' } },
        { name: 'only-b', cluster: { server: 'https://only-b:6443', 'certificate-authority': 'pki/ca.crt' } },
      ],
      users: [{ name: 'admin', user: { token: 'token-b' } }, { name: 'dev', user: { token: 'token-dev' } }],
      contexts: [
        { name: 'prod', context: { cluster: 'only-b', user: 'dev', namespace: 'ns-b' } },
        { name: 'lab', context: { cluster: 'only-b', user: 'admin' } },
        { name: 'cross', context: { cluster: 'only-a', user: 'dev', namespace: 'x' } },
      ],
      'current-context': 'lab',
    });
  });

  const layouts: Array<[string, () => string, string?]> = [
    ['two files: the first current-context and the first definition of each name win', () => list(a, b)],
    ['the same two files the other way round', () => list(b, a)],
    ['a missing file in the list is skipped', () => list(join(dir, 'missing.yaml'), b, a)],
    ['--context defined only in the second file, cluster from the first', () => list(a, b), 'cross'],
    ['--context whose name both files define takes the first file\'s', () => list(b, a), 'prod'],
    ['relative paths resolve against the file that defines the entry', () => list(b), 'lab'],
    ['a file listed twice counts once', () => list(a, a, b), 'lab'],
  ];
  it.each(layouts)('%s', (_name, env, context) => {
    const want = theirs(env(), context);
    expect(want.server).toMatch(/^https:/);
    expect(ours(env(), context)).toEqual(want);
  });

  it('layouts differ (the comparison can fail): a:b and b:a pick different clusters', () => {
    expect(ours(list(a, b)).server).toBe('https://a-shared:6443');
    expect(ours(list(b, a)).server).toBe('https://only-b:6443');
    expect(ours(list(b, a)).ca).toBe(Buffer.from('CA OF B\n').toString('base64'));
  });

  it('a name defined twice in one file is refused, as kubectl refuses it', () => {
    const dup = write('dup.yaml', {
      clusters: [{ name: 'c', cluster: { server: 'https://one' } }, { name: 'c', cluster: { server: 'https://two' } }],
      contexts: [{ name: 'x', context: { cluster: 'c' } }],
      'current-context': 'x',
    });
    expect(() => theirs(list(dup, a))).toThrow(/duplicate name "c"/);
    expect(() => ours(list(dup, a))).toThrow(`cannot read kubeconfig ${dup}: duplicate name "c" in clusters`);
  });

  it('an unknown --context names every context of every file', () => {
    expect(() => ours(list(a, b), 'nope')).toThrow(`context "nope" not found in KUBECONFIG=${a}${delimiter}${b}`);
  });

  it('a current-context that no file defines is an error naming it', () => {
    const c = write('c.yaml', { 'current-context': 'ghost' });
    expect(() => theirs(list(c, a))).toThrow(/ghost/);
    expect(() => ours(list(c, a))).toThrow(/current-context "ghost" is not defined/);
  });
});

describe('connect() with a merged KUBECONFIG', () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer({ port: 0 });
  });
  afterAll(() => api.close());

  it('reaches the first file\'s cluster (the lab), not the last file\'s, and stays off client-node', async () => {
    const lab = join(dir, 'lab.yaml');
    writeFileSync(lab, kubeconfigYaml(api.url, { token: 'lab-token', namespace: 'kube-system' }));
    // Same context name, elsewhere: kubectl ignores it because the lab file comes first.
    const other = write('other.yaml', {
      clusters: [{ name: 'lab', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'lab', user: { token: 'wrong' } }],
      contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab', namespace: 'elsewhere' } }],
      'current-context': 'lab',
    });
    const k = await connect({ env: { KUBECONFIG: list(lab, other), HOME: dir } });
    expect(k.namespace).toBe('kube-system');
    expect((await k.list(R.Namespace)).items.map((n) => n.metadata?.name)).toContain('kube-system');
    await expect(connect({ env: { KUBECONFIG: list(other, lab), HOME: dir }, requestTimeout: '2s' }).then((x) => x.list(R.Namespace))).rejects.toThrow();
  });

  it('a KUBECONFIG whose files are all missing says which it tried', async () => {
    await expect(connect({ env: { KUBECONFIG: list(join(dir, 'x.yaml'), join(dir, 'y.yaml')), HOME: dir } })).rejects.toThrow(`no kubeconfig found at ${join(dir, 'x.yaml')}${delimiter}${join(dir, 'y.yaml')}`);
  });
});

describe('the client-node fallback gets the merged document', () => {
  it('an exec-plugin entry: the merged current-context, first definitions, and absolute paths', () => {
    const first = write('exec-a.yaml', {
      clusters: [{ name: 'eks', cluster: { server: 'https://eks-a' } }],
      users: [{ name: 'aws', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'aws' } } }],
      contexts: [{ name: 'eks', context: { cluster: 'eks', user: 'aws' } }],
      'current-context': 'eks',
    });
    const second = write('b-dir/exec-b.yaml', {
      clusters: [{ name: 'eks', cluster: { server: 'https://eks-b' } }, { name: 'ca', cluster: { server: 'https://ca', 'certificate-authority': 'pki/ca.crt' } }],
      'current-context': 'other',
    });
    const r = loadKubeconfig([first, second]);
    if (!('fallback' in r)) throw new Error('expected a fallback');
    const doc = r.fallback as Required<Doc>;
    expect(doc['current-context']).toBe('eks');
    expect(doc.clusters.find((c) => c.name === 'eks')?.cluster['server']).toBe('https://eks-a');
    expect(doc.clusters.find((c) => c.name === 'ca')?.cluster['certificate-authority']).toBe(join(dir, 'b-dir', 'pki', 'ca.crt'));
  });
});
