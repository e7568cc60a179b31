// More doctor faults in the lab (prefix d1), one at a time, through the built CLI against the real
// agents, CNI and node runner: a NIC set down (kept in the HostInterface as down, its blocks kept,
// doctor fails naming host, NIC, networks and the command that fixes it); the multi-nic executable
// removed from one host's CNI bin dir and the macvlan delegate from another's (doctor names the node
// and the path); a torn IPAM journal record and an address held twice in a journal (doctor names the
// node's journal, the address and its holders); and an allocation
// leaked by a pod whose DEL never came, found by `ipam check` and released by `ipam release`
// through its agent. Each ends healthy again. Runs under the global lock.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJournal, decodeSingle, encodeRecord } from '../../src/agent/ipam/journal.js';
import type { IpamReleaseReport } from '../../src/commands/ipam/release.js';
import type { KubeApi } from '../../src/kube/api.js';
import type { DoctorReport, Finding } from '../../src/lib/doctor/types.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { listCidrViews } from '../../src/cluster/cidr-view.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { installedLab, type InstalledLab } from '../helpers/lab.js';
import { hasCniPlugins, privileged } from '../helpers/privileged.js';

const prefix = 'd1';
const ready = privileged.ok && hasCniPlugins;
const why = !privileged.ok ? privileged.reason : 'needs containernetworking-plugins in /usr/lib/cni';
let lab: InstalledLab | undefined;
let dir = '';
let kubeconfig = '';
let kube: KubeApi;
const cli = (args: string[], timeoutMs = 120_000) => runCliAsync([...args, '--kubeconfig', kubeconfig], { timeoutMs });
const hostDir = (h: string) => join(dir, 'lab', 'hosts', h);

async function doctor(args: string[] = []): Promise<{ code: number | null; report: DoctorReport }> {
  const r = await cli(['doctor', '-o', 'json', ...args]);
  expect(r.stdout, r.stderr).not.toBe('');
  return { code: r.code, report: JSON.parse(r.stdout) as DoctorReport };
}
/** What a lab always shows aside (no Multus DaemonSet: the node runner plays Multus). */
const faults = (r: DoctorReport): Finding[] => r.findings.filter((f) => f.check !== 'multus' && !(f.check === 'agent-diagnostics' && /publishes no diagnostics/.test(f.seen)));
const doctorUntil = (pred: (f: Finding) => boolean, args: string[] = []) =>
  eventually(async () => {
    const r = await doctor(args);
    if (!r.report.findings.some(pred)) throw new Error(`not yet: ${JSON.stringify(faults(r.report))}`);
    return r;
  }, 60_000, 500);
const healthyAgain = () =>
  eventually(async () => {
    const r = await doctor(['--timeout', '2s']);
    const left = faults(r.report).filter((f) => f.check !== 'node-repairs');
    if (r.code !== 0 || left.length) throw new Error(`still: ${JSON.stringify(left)}`);
  }, 90_000, 1000);

/** POST to a lab agent's CNI socket, as the multi-nic executable does. */
function agentCall(host: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ socketPath: join(hostDir(host), 'agent.sock'), path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

function agentPids(host: string): number[] {
  const sock = join(hostDir(host), 'agent.sock');
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`--socket ${sock}`) && l.includes('multinic-agent'))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((p) => Number.isInteger(p) && p > 0);
}

describe.skipIf(!ready)(`doctor faults in the lab${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    lab = await installedLab({ prefix, tmpPrefix: 'mnd1-faults-', hosts: 3, nics: 2, network: () => join(repoRoot, 'examples/lab-network.yaml') });
    ({ dir, kubeconfig, kube } = lab);
    await healthyAgain();
  }, 600_000);

  afterAll(async () => {
    await lab?.down();
  }, 90_000);

  it('a NIC set down: kept in the HostInterface as down with its blocks; doctor fails naming host, NIC, networks and the fix', async () => {
    execFileSync('ip', ['-n', `${prefix}-host2`, 'link', 'set', 'eth2', 'down']);
    try {
      const { code, report } = await doctorUntil((f) => f.check === 'node-links' && f.where.node === 'host2');
      expect(code).toBe(1);
      const f = report.findings.find((x) => x.check === 'node-links')!;
      expect(f).toMatchObject({ severity: 'fail', where: { node: 'host2', nic: 'eth2' }, seen: 'NIC eth2 on host2 is down (operstate down); it carries multi-nic-sample', fix: 'ip link set eth2 up on host2' });
      const hi = (await kube.get(R.HostInterface, 'host2')) as KubeObject & { spec: { interfaces: Array<{ interfaceName: string; state?: string }> } };
      expect(hi.spec.interfaces.map((i) => [i.interfaceName, i.state])).toEqual([['eth1', 'up'], ['eth2', 'down']]);
      // Host entries live in CIDRClaims: read the view readers assemble (docs/scale.md).
      const cidr = (await listCidrViews(kube)).find((c) => c.metadata.name === 'multi-nic-sample')!;
      expect(cidr.spec.cidr.flatMap((e) => e.hosts).filter((h) => h.hostName === 'host2').map((h) => h.interfaceName).sort()).toEqual(['eth1', 'eth2']);
      const st = await cli(['status', '-o', 'json']);
      expect(st.code).toBe(1);
    } finally {
      execFileSync('ip', ['-n', `${prefix}-host2`, 'link', 'set', 'eth2', 'up']);
    }
    await healthyAgain();
  }, 240_000);

  it('the multi-nic executable removed from one host\'s CNI bin dir, the macvlan delegate from another\'s: doctor names node and path', async () => {
    const mn = join(hostDir('host3'), 'cni-bin', 'multi-nic');
    const mv = join(hostDir('host1'), 'cni-bin', 'macvlan');
    const targets = [readlinkSync(mn), readlinkSync(mv)];
    unlinkSync(mn);
    unlinkSync(mv);
    try {
      const { code, report } = await doctorUntil((f) => f.check === 'node-binaries' && f.where.node === 'host3');
      expect(code).toBe(1);
      const bins = report.findings.filter((f) => f.check === 'node-binaries').map((f) => [f.where.node, f.seen]);
      expect(bins).toContainEqual(['host3', expect.stringContaining(mn)]);
      expect(bins).toContainEqual(['host1', expect.stringContaining(mv)]);
      expect(bins.every(([n]) => n === 'host1' || n === 'host3')).toBe(true);
    } finally {
      symlinkSync(targets[0]!, mn);
      symlinkSync(targets[1]!, mv);
    }
    await healthyAgain();
  }, 240_000);

  it('a torn record at the end of a host\'s IPAM journal: the agent cuts it at start and doctor names the node\'s journal', async () => {
    // A record header announcing 4 KiB with 5 bytes after it: what a crash mid-append leaves.
    const header = Buffer.alloc(8);
    header.writeUInt32LE(4096, 0);
    appendFileSync(join(hostDir('host1'), 'data', 'ipam', 'journal'), Buffer.concat([header, Buffer.from('{"s":')]));
    const [pid] = agentPids('host1');
    process.kill(pid!, 'SIGTERM');
    const { report } = await doctorUntil((f) => f.check === 'node-journal' && f.where.node === 'host1');
    const f = report.findings.find((x) => x.check === 'node-journal')!;
    expect(f.seen).toMatch(/^IPAM journal on host1: 1 damaged record skipped \(13 damaged bytes cut off the journal at load/);
    expect(f.fix).toMatch(/kubectl multinic ipam check/);
  }, 240_000);

  it('an address held twice in a host\'s journal (a record appended by hand): doctor names the address, pool and both holders; ipam release clears both', async () => {
    const pod = (n: string) => ({ namespace: 'default', name: n, uid: `0b1e55ed-0000-4000-8000-0000000d1${n.length}${n.charCodeAt(n.length - 1) % 10}`, containerID: `d1${n}000000001`, ifName: 'net1' });
    const add = await agentCall('host3', '/v1/allocate', { apiVersion: 'v1', network: 'multi-nic-sample', pod: pod('dupa'), args: { nics: 1 } });
    expect(add.status, JSON.stringify(add.body)).toBe(200);
    const address = ((add.body as { nics: Array<{ address: string; pool: string }> }).nics[0]!.address).split('/')[0]!;
    const ipamDir = join(hostDir('host3'), 'data', 'ipam');
    const records = decodeJournal(readFileSync(join(ipamDir, 'journal')), 'journal').records as Array<{ s: number; op: string; allocations?: Array<Record<string, unknown>> }>;
    const snapSeq = existsSync(join(ipamDir, 'snapshot')) ? ((decodeSingle(readFileSync(join(ipamDir, 'snapshot')), 'snapshot') as { s?: number }).s ?? 0) : 0;
    const mine = records.flatMap((r) => r.allocations ?? []).find((a) => a.address === address && a.podName === 'dupa')!;
    expect(mine).toBeDefined();
    const twin = { ...mine, podUID: pod('dupb').uid, containerID: pod('dupb').containerID, podName: 'dupb' };
    const seq = Math.max(snapSeq, ...records.map((r) => r.s));
    appendFileSync(join(ipamDir, 'journal'), encodeRecord({ s: seq + 1, op: 'allocate', allocations: [twin] }));
    const [pid] = agentPids('host3');
    process.kill(pid!, 'SIGTERM');
    const { code, report } = await doctorUntil((f) => f.check === 'node-journal' && f.where.node === 'host3');
    expect(code).toBe(1);
    const f = report.findings.find((x) => x.check === 'node-journal' && x.where.node === 'host3')!;
    expect(f.seen).toContain(`address ${address} in pool `);
    expect(f.seen).toContain("is held by 2 allocations in host3's journal: ");
    expect(f.seen).toMatch(/dupa/);
    expect(f.seen).toMatch(/dupb/);
    const rel = await cli(['ipam', 'release', address, '--node', 'host3', '-o', 'json']);
    // Both holders are gone pods: both released, one request to host3's agent.
    expect(rel.code, rel.stdout + rel.stderr).toBe(0);
    expect((JSON.parse(rel.stdout) as IpamReleaseReport).items.map((i) => [i.pod, i.outcome]).sort()).toEqual([['default/dupa', 'released'], ['default/dupb', 'released']]);
    // host3's journal holds neither now (host1's torn record stays named until that agent restarts).
    await eventually(async () => {
      const r = await doctor(['--node', 'host3', '--timeout', '2s']);
      const left = faults(r.report).filter((x) => x.check !== 'node-repairs');
      if (left.length) throw new Error(`still: ${JSON.stringify(left)}`);
    }, 90_000, 1000);
  }, 240_000);

  it('an allocation leaked by a pod whose DEL never came: ipam check names it, ipam release --leaked releases it through its agent', async () => {
    // The CNI ADD of a pod that is then force-deleted with its node's runtime gone: the agent holds
    // the address, no pod exists.
    const uid = '0b1e55ed-0000-4000-8000-00000000d1d1';
    const add = await agentCall('host2', '/v1/allocate', { apiVersion: 'v1', network: 'multi-nic-sample', pod: { namespace: 'default', name: 'ghost', uid, containerID: 'd1ghost000000001', ifName: 'net1' }, args: { nics: 1 } });
    expect(add.status, JSON.stringify(add.body)).toBe(200);
    const address = ((add.body as { nics: Array<{ address: string }> }).nics[0]!.address).split('/')[0]!;
    const check = await eventually(async () => {
      const r = await cli(['ipam', 'check', '-o', 'json']);
      const rep = JSON.parse(r.stdout) as DoctorReport;
      if (!rep.findings.some((f) => f.check === 'ipam-leaked')) throw new Error(`not yet: ${r.stdout}`);
      return { code: r.code, rep };
    }, 30_000, 500);
    expect(check.code).toBe(1);
    expect(check.rep.findings.map((f) => [f.check, f.where.node, f.where.pod])).toEqual([['ipam-leaked', 'host2', 'default/ghost']]);
    expect(check.rep.findings[0]?.fix).toContain(`kubectl multinic ipam release ${address} --node host2`);
    const dry = await cli(['ipam', 'release', '--leaked', '--dry-run', '-o', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as IpamReleaseReport).items.map((i) => [i.address, i.node, i.outcome])).toEqual([[address, 'host2', 'would-release']]);
    const rel = await cli(['ipam', 'release', '--leaked', '--yes', '-o', 'json']);
    expect(rel.code, rel.stderr).toBe(0);
    const rep = JSON.parse(rel.stdout) as IpamReleaseReport;
    expect(rep.items.map((i) => [i.address, i.node, i.pod, i.outcome])).toEqual([[address, 'host2', 'default/ghost', 'released']]);
    // The journal released it (the agent's lookup no longer finds it), the IPPool mirror follows.
    const look = await agentCall('host2', '/v1/lookup', { apiVersion: 'v1', network: 'multi-nic-sample', pod: { namespace: 'default', name: 'ghost', uid, containerID: 'd1ghost000000001', ifName: 'net1' } });
    expect(look.status).toBe(404);
    await eventually(async () => {
      const r = await cli(['ipam', 'check', '--timeout', '2s']);
      if (r.code !== 0) throw new Error(r.stdout);
    }, 30_000, 500);
    const ev = (await kube.list(R.Event, { namespace: 'multinic-system' })).items.filter((e) => (e as { reason?: string }).reason === 'AddressReleased');
    expect(ev.map((e) => (e as { message?: string }).message)).toContainEqual(expect.stringContaining(`released ${address} of default/ghost (net1-0) on request`));
  }, 240_000);
});
