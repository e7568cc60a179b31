// The TUI's nodes view in a real terminal (the built CLI inside tmux at 160x30, the API stand-in as
// the cluster, no lab): a NIC a DRA ResourceClaim holds shows its pods and claim in CLAIMED BY, and
// a claim allocated while the TUI is open appears without a key (the feed's claim/slice watches).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { cliBin, repoRoot } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { hasTmux, tmux, tmuxSession } from '../helpers/tmux.js';

const term = tmuxSession(`dr-ui-claims-${process.pid}`);
const { send, waitFor } = term;

let server: ApiServer;
let dir = '';

function claim(name: string, host: string, device: string, pod: string): void {
  const c = server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceClaim', metadata: { name, namespace: 'default' }, spec: { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'multi-nic-sample.multinic.fms.io', count: 1 } }] } } } as unknown as KubeObject);
  server.store.updateStatus({ ...c, status: { allocation: { devices: { results: [{ request: 'nics', driver: 'multinic.fms.io', pool: host, device }] } }, reservedFor: [{ resource: 'pods', name: pod, uid: `u-${pod}` }] } });
}

describe.skipIf(!hasTmux)(`ui: claimed NICs in a real terminal${hasTmux ? '' : ' (skipped: needs tmux)'}`, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dr-ui-claims-'));
    server = await startApiServer();
    await writeKubeconfig(join(dir, 'kubeconfig'), server.url);
    for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
    const inv = parse(readFileSync(join(repoRoot, 'examples/hosts.yaml'), 'utf8')) as { items: KubeObject[] };
    for (const h of inv.items) {
      const n = h.metadata?.name ?? '';
      server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } });
      server.store.create(h);
      server.store.create({ apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice', metadata: { name: `${n}-multinic.fms.io` }, spec: { driver: 'multinic.fms.io', nodeName: n, pool: { name: n, generation: 1, resourceSliceCount: 1 }, devices: ['eth1', 'eth2'].map((d) => ({ name: d, attributes: { interfaceName: { string: d } } })) } } as unknown as KubeObject);
    }
    claim('trainer-0-nics-x7k2p', 'host1', 'eth2', 'trainer-0');
    const cmd = [process.execPath, cliBin, 'ui', '--kubeconfig', join(dir, 'kubeconfig')].map((a) => `'${a}'`).join(' ');
    tmux('new-session', '-d', '-s', term.name, '-x', '160', '-y', '30', '-c', repoRoot, `env NO_COLOR=1 ${cmd}`);
  }, 60_000);
  afterAll(async () => {
    term.kill();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(':nodes shows the claim holding host1/eth2; a claim allocated meanwhile appears by watch; q quits', async () => {
    await waitFor(/lab|https?:\/\//, 30_000);
    for (const k of [':', 'n', 'o', 'd', 'e', 's']) send(k);
    send('Enter');
    const s = await waitFor(/CLAIMED BY/);
    const rows = s.split('\n');
    expect(rows.find((l) => / eth2 .*default\/trainer-0 \(claim default\/trainer-0-nics-x7k2p\)/.test(l))).toBeDefined();
    expect(rows.filter((l) => /\(claim /.test(l))).toHaveLength(1);
    claim('trainer-1-nics-q9z4m', 'host2', 'eth1', 'trainer-1');
    const after = await waitFor(/default\/trainer-1 \(claim default\/trainer-1-nics-q9z4m\)/, 5000);
    expect(after.split('\n').filter((l) => /\(claim /.test(l))).toHaveLength(2);
    send('q');
    // The pane runs only the ui: once it exits, the session is gone.
    await eventually(() => expect(term.alive()).toBe(false), 10_000, 100);
  }, 90_000);
});
