// `kubectl multinic version` through the built executable: the client alone (--client, no cluster),
// and with the API stand-in: its version, every node's agent version from HostInterface status, and
// skew warnings; an unreachable cluster still prints the client and exits 3.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import { validateSchema, type JsonSchema } from '../../src/lib/k8s/schema.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { agentVersions, versionWarnings } from '../../src/lib/version.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';

const pkgVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas/version.json'), 'utf8')) as JsonSchema;
let server: ApiServer;
let dir: string;
let kubeconfig: string;

const hostInterface = (node: string, agentVersion?: string): KubeObject => ({
  apiVersion: 'multinic.fms.io/v1',
  kind: 'HostInterface',
  metadata: { name: node },
  spec: { hostName: node, interfaces: [] },
  ...(agentVersion ? { status: { agentVersion, lastSeen: '2026-12-02T10:00:00Z' } } : {}),
} as KubeObject);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-version-'));
  server = await startApiServer();
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('version', () => {
  it('--client needs no cluster', async () => {
    const r = await runCliAsync(['version', '--client', '-o', 'json', '--kubeconfig', join(dir, 'none')]);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout) as { client: { version: string }; server?: unknown };
    expect(validateSchema(schema, v)).toEqual([]);
    expect(v.client.version).toBe(pkgVersion);
    expect(v.server).toBeUndefined();
  });

  it('the API server and every node\'s agent, with a warning for the node on another version', async () => {
    for (const [node, v] of [['host2', pkgVersion], ['host1', pkgVersion], ['host3', '0.0.9']] as const) {
      server.store.create(hostInterface(node));
      server.store.patch('multinic.fms.io/v1', 'HostInterface', node, '', 'merge', { status: { agentVersion: v } }, 'status');
    }
    const r = await runCliAsync(['version', '-o', 'json', '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout) as { server: { gitVersion: string }; agents: Array<{ node: string; version: string }>; warnings: string[] };
    expect(validateSchema(schema, v)).toEqual([]);
    expect(v.server.gitVersion).toMatch(/^v1\./);
    expect(v.agents.map((a) => [a.node, a.version])).toEqual([['host1', pkgVersion], ['host2', pkgVersion], ['host3', '0.0.9']]);
    expect(v.warnings.some((w) => w.startsWith(`agent 0.0.9 on host3 differs from this client (${pkgVersion})`))).toBe(true);
    expect(r.stderr).toContain('warning: agent 0.0.9 on host3');
    const human = await runCliAsync(['version', '--kubeconfig', kubeconfig]);
    expect(human.stdout).toContain(`Agent Versions: ${pkgVersion} (2 nodes), 0.0.9 (1 node)`);
  });

  it('an unreachable cluster: the client version still printed, exit 3', async () => {
    const dead = join(dir, 'dead');
    await writeKubeconfig(dead, 'http://127.0.0.1:1');
    const r = await runCliAsync(['version', '--kubeconfig', dead, '--request-timeout', '2s']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`Client Version: ${pkgVersion}`);
    expect(r.stderr).toMatch(/error: .*127\.0\.0\.1:1/);
  });
});

describe('versionWarnings', () => {
  it('no warning when every agent runs the client\'s version', () => {
    expect(versionWarnings('1.0.0', [{ node: 'a', version: '1.0.0' }, { node: 'b', version: '1.0.0' }])).toEqual([]);
  });
  it('mixed agents, and nodes that never reported', () => {
    const w = versionWarnings('1.0.0', agentVersions([hostInterface('a', '1.0.0'), hostInterface('b', '1.1.0'), hostInterface('c')] as never));
    expect(w).toEqual([
      'agent 1.1.0 on b differs from this client (1.0.0): upgrade with `kubectl multinic install`, or use the matching client',
      'agents run 2 different versions (1.0.0, 1.1.0): a rollout may be in progress (`kubectl -n kube-system rollout status ds/multinic-agent`)',
      'no agent version reported for c (agent not running, or not yet started)',
    ]);
  });
});
