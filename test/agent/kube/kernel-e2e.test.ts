// The real agent (`agent --kube`, bundled) in two throwaway host namespaces against the API
// stand-in: HostInterfaces appear, the seed network's CIDR is claimed with the expected blocks,
// routes land in the host tables and are reported, the leader writes NADs and routeStatus
// Success, and a restarted agent keeps its index. Hosts reach the stand-in over a management
// bridge in the root namespace (their default route, so discovery leaves it out).
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../../helpers/privileged.js';
import { NetnsLab } from '../helpers/netns.js';
import { run, start } from '../../../src/host/exec.js';
import { startApiServer, writeKubeconfig, type ApiServer } from '../../../src/lab/apiserver/index.js';
import { CRDS } from '../../../src/lib/crds/crds.gen.js';
import type { CIDR, CIDRClaim, HostInterface, MultiNicNetwork } from '../../../src/lib/crds/types.gen.js';
import { cidrViews } from '../../../src/lib/cluster/claim-objects.js';
import { AGENT_NS, bundleKubeAgent, eventually, seedNetwork } from './helpers.js';

const BR = 'mnGbr';
const MGMT = '172.31.250';

describe.skipIf(!privileged.ok)(`agent --kube end to end in network namespaces ${privileged.reason}`, () => {
  const lab = new NetnsLab('mnG');
  let server: ApiServer;
  let dir: string;
  let bundle: string;
  let kubeconfig: string;
  const procs = new Map<string, ChildProcess>();
  const hosts = ['h1', 'h2'];

  const startAgent = (h: string): void => {
    const child = start('ip', ['netns', 'exec', `mnG${h}`, process.execPath, bundle, 'run', '--kube', '--kubeconfig', kubeconfig, '--namespace', AGENT_NS, '--node', h, '--socket', join(dir, `${h}.sock`), '--data-dir', join(dir, h), '--rt-tables', join(dir, `${h}-rt_tables`), '--enable-forwarding']);
    // The agent's log goes to a file in the test dir: printed when the test fails.
    const log = createWriteStream(join(dir, `${h}.log`), { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    procs.set(h, child);
  };
  const stopAgent = async (h: string): Promise<void> => {
    const p = procs.get(h);
    procs.delete(h);
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  };
  const get = <T>(kind: string, name: string, ns = ''): T | undefined => server.store.get('multinic.fms.io/v1', kind, name, ns) as T | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mnG-e2e-'));
    bundle = await bundleKubeAgent();
    await run('ip', ['link', 'del', BR]).catch(() => undefined);
    await run('ip', ['link', 'add', BR, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${MGMT}.1/24`, 'dev', BR]);
    await run('ip', ['link', 'set', BR, 'up']);
    const fab = await lab.netns('fab');
    for (const [i, h] of hosts.entries()) {
      const ns = await lab.netns(h);
      await lab.veth(ns, 'eth1', fab, `p1${h}`);
      await lab.veth(ns, 'eth2', fab, `p2${h}`);
      await run('ip', ['link', 'add', `mnGv${h}`, 'type', 'veth', 'peer', 'name', `mnGw${h}`]);
      await run('ip', ['link', 'set', `mnGw${h}`, 'netns', ns]);
      await run('ip', ['link', 'set', `mnGv${h}`, 'master', BR, 'up']);
      await lab.ip(ns, [`link set mnGw${h} name mgmt`, 'link set mgmt up', `addr add ${MGMT}.${10 + i}/24 dev mgmt`, `route add default via ${MGMT}.1 dev mgmt`, `addr add 10.0.1.${i + 1}/24 dev eth1`, `addr add 10.0.2.${i + 1}/24 dev eth2`]);
      mkdirSync(join(dir, h));
    }
    server = await startApiServer({ host: `${MGMT}.1` });
    for (const crd of CRDS) server.store.create(structuredClone(crd) as never);
    server.store.create({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'network-attachment-definitions.k8s.cni.cncf.io' }, spec: { group: 'k8s.cni.cncf.io', scope: 'Namespaced', names: { plural: 'network-attachment-definitions', singular: 'network-attachment-definition', kind: 'NetworkAttachmentDefinition' }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] } } as never);
    server.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENT_NS } });
    for (const h of hosts) server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: h } });
    server.store.create(seedNetwork({ namespaces: ['default'] }) as never);
    kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server.url);
    for (const h of hosts) startAgent(h);
  }, 60_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const h of hosts) {
      const text = readFileSync(join(dir, `${h}.log`), 'utf8').trim().split('\n').slice(-25).join('\n');
      process.stderr.write(`--- agent ${h} log (last lines) ---\n${text}\n`);
    }
  });

  afterAll(async () => {
    await Promise.all([...procs.keys()].map(stopAgent));
    await server?.close();
    await lab.cleanup();
    await run('ip', ['link', 'del', BR]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    if (bundle) rmSync(dirname(bundle), { recursive: true, force: true });
  });

  it('publishes HostInterfaces, claims the seed blocks, installs and reports routes, writes NADs and status', async () => {
    await eventually(() => {
      for (const h of hosts) expect(get<HostInterface>('HostInterface', h)?.spec.interfaces.map((i) => i.interfaceName)).toEqual(['eth1', 'eth2']);
    }, 30_000);
    // Host entries live in CIDRClaims: the view readers assemble from them (docs/scale.md).
    const view = (): CIDR | undefined => cidrViews(server.store.list('multinic.fms.io/v1', 'CIDR') as unknown as CIDR[], server.store.list('multinic.fms.io/v1', 'CIDRClaim') as unknown as CIDRClaim[]).find((c) => c.metadata.name === 'multi-nic-sample');
    await eventually(() => expect(view()?.spec.cidr.map((e) => e.hosts.length)).toEqual([2, 2]), 20_000);
    const cidr = view()!;
    const idx = Object.fromEntries(cidr.spec.cidr[0]!.hosts.map((h) => [h.hostName, h.hostIndex]));
    expect(Object.values(idx).sort()).toEqual([0, 1]);
    for (const e of cidr.spec.cidr) {
      for (const h of e.hosts) {
        const i = e.interfaceIndex;
        expect(h.podCIDR).toBe(`192.168.${i * 64 + h.hostIndex}.0/24`);
        expect(h.hostIP).toBe(`10.0.${i + 1}.${hosts.indexOf(h.hostName) + 1}`);
      }
    }
    // Routes to the other host's pod blocks are in h1's network table, behind the subnet rule.
    const other = cidr.spec.cidr.map((e) => e.hosts.find((h) => h.hostName === 'h2')!);
    await eventually(async () => {
      // The agent names its table in the rt_tables file it was given (ip itself reads /etc/iproute2).
      const line = readFileSync(join(dir, 'h1-rt_tables'), 'utf8').split('\n').find((l) => l.trim().endsWith('multi-nic-sample'));
      const table = line?.trim().split(/\s+/)[0];
      expect(table).toMatch(/^\d+$/);
      const rules = (await lab.json<{ src?: string; srclen?: number; table?: string }>('mnGh1', ['rule', 'show'])).filter((r) => r.table === table).map((r) => `${r.src}/${r.srclen}`);
      expect(rules).toEqual(['192.168.0.0/16']);
      const routes = (await lab.json<{ dst: string; gateway?: string; dev: string }>('mnGh1', ['route', 'show', 'table', table!])).map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`).sort();
      expect(routes).toEqual([`${other[0]!.podCIDR} via 10.0.1.2 dev eth1`, `${other[1]!.podCIDR} via 10.0.2.2 dev eth2`].sort());
    }, 20_000);
    await eventually(() => {
      const st = get<MultiNicNetwork>('MultiNicNetwork', 'multi-nic-sample')?.status;
      expect(st?.routeStatus).toBe('Success');
      expect(st?.configStatus).toBe('Success');
      // Ready hosts are counted, only the not-ready ones listed.
      expect([st?.readyHosts, st?.notReadyHosts, st?.hosts]).toEqual([2, 0, []]);
    }, 30_000);
    expect(server.store.get('k8s.cni.cncf.io/v1', 'NetworkAttachmentDefinition', 'multi-nic-sample', 'default')).toBeDefined();
    expect(server.store.get('coordination.k8s.io/v1', 'Lease', 'multinic-agent-leader', AGENT_NS)).toBeDefined();

    // Restart h2's agent: same index, and the network is Success again.
    await stopAgent('h2');
    startAgent('h2');
    await eventually(() => {
      const hi = get<HostInterface>('HostInterface', 'h2');
      expect(hi?.status?.lastSeen && Date.parse(hi.status.lastSeen)).toBeGreaterThan(Date.now() - 15_000);
    }, 30_000);
    await eventually(() => expect(get<MultiNicNetwork>('MultiNicNetwork', 'multi-nic-sample')?.status?.routeStatus).toBe('Success'), 30_000);
    const after = view()!;
    expect(Object.fromEntries(after.spec.cidr[0]!.hosts.map((h) => [h.hostName, h.hostIndex]))).toEqual(idx);
    expect(after.spec).toEqual(cidr.spec);
  }, 120_000);
});
