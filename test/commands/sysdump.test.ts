// `kubectl multinic sysdump` through the built CLI against the API stand-in: the archive is read back
// with the system's tar; it holds our resources, the agent pod's log (through the pod log endpoint),
// Multus network-status, the doctor's report and versions; Secrets and tokens never appear; --output
// is checked before anything is written; a budget that cuts the dump is recorded inside it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import type { SysdumpManifest } from '../../src/cluster/sysdump.js';
import { runCliAsync } from '../helpers/cli.js';
import { CLAIMS_ANNOTATION, CLAIMS_ANNOTATION_VALUE, claimsFromCidr, cidrSummarySpec } from '../../src/lib/cluster/claim-objects.js';
import type { CIDRSpec } from '../../src/lib/crds/types.gen.js';
import { AGENT_NS, createNode, testCluster, type TestCluster } from '../agent/kube/helpers.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXNlY3JldA';
const SECRET_VALUE = 'c3VwZXItc2VjcmV0LXZhbHVl';

describe('sysdump on the API stand-in', () => {
  let c: TestCluster;
  let dir: string;
  let kubeconfig: string;
  const cli = (args: string[]) => runCliAsync(['sysdump', ...args, '--kubeconfig', kubeconfig], { timeoutMs: 90_000 });
  const unpack = (archive: string): string => {
    const out = mkdtempSync(join(dir, 'x-'));
    execFileSync('tar', ['-xzf', archive, '-C', out]);
    return out;
  };
  const walk = (d: string, base = ''): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f), `${base}${f}/`) : [`${base}${f}`]));

  beforeAll(async () => {
    c = await testCluster();
    createNode(c, 'n1');
    dir = mkdtempSync(join(tmpdir(), 'mnd1-sysdump-'));
    kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, c.server.url);
    const s = c.server.store;
    // A network whose host entries are CIDRClaims: the CIDR object is the summary, the view has the host.
    const spec: CIDRSpec = { config: { name: 'sd', type: 'macvlan', subnet: '192.168.0.0/16', masterNets: ['10.0.1.0/24'], hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' }, cidr: [{ netAddress: '10.0.1.0/24', interfaceIndex: 0, vlanCIDR: '192.168.0.0/18', hosts: [{ hostName: 'n1', hostIndex: 0, interfaceName: 'eth1', hostIP: '10.0.1.1', podCIDR: '192.168.0.0/24' }] }] };
    s.create({ apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name: 'sd', annotations: { [CLAIMS_ANNOTATION]: CLAIMS_ANNOTATION_VALUE } }, spec: cidrSummarySpec(spec) } as never);
    for (const claim of claimsFromCidr('sd', spec)) s.create(claim as never);
    s.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'multinic-agent-abcde', namespace: AGENT_NS, labels: { 'app.kubernetes.io/name': 'multinic-agent' } }, spec: { nodeName: 'n1', containers: [{ name: 'agent', image: 'x' }] } } as never);
    c.server.store.appendPodLog(AGENT_NS, 'multinic-agent-abcde', `{"level":"info","msg":"discovered NICs"}\n{"level":"warn","msg":"API call","authorization":"Bearer ${TOKEN}"}\n{"level":"warn","msg":"retrying with Bearer ${TOKEN.slice(0, 30)}"}\n`);
    s.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'train', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/networks': 'multi-nic-sample', 'k8s.v1.cni.cncf.io/network-status': '[{"name":"default/multi-nic-sample","interface":"net1-0","ips":["192.168.0.5"]}]' } }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x', env: [{ name: 'API_TOKEN', value: TOKEN }] }] } } as never);
    s.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: AGENT_NS }, data: { password: SECRET_VALUE } } as never);
  }, 30_000);

  afterAll(async () => {
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one archive with resources, agent logs, network-status, doctor report and versions; no secrets', async () => {
    const out = join(dir, 'dump.tar.gz');
    const r = await cli(['-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote ${out.replace(/\./g, '\\.')} \\(\\d+ bytes, \\d+ files\\)`));
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const x = unpack(out);
    const files = walk(x).sort();
    for (const f of ['sysdump.json', 'version.json', 'doctor.json', 'probes.json', 'pods/network-status.json', `logs/${AGENT_NS}/multinic-agent-abcde.log`, 'resources/multinicnetworks.json', 'resources/cidrs.json', 'resources/cidrclaims.json', 'resources/cidr-views.json', 'resources/ippools.json', 'resources/hostinterfaces.json', 'resources/deviceclasses.json', 'resources/networkattachmentdefinitions.json', 'resources/customresourcedefinitions.json', 'resources/daemonsets.json', 'resources/nodes.json', 'resources/events.json']) {
      expect(files).toContain(f);
    }
    const manifest = JSON.parse(readFileSync(join(x, 'sysdump.json'), 'utf8')) as SysdumpManifest;
    expect(manifest).toMatchObject({ kind: 'Sysdump', errors: [], skipped: [] });
    expect(manifest.files.map((f) => f.name).sort()).toEqual(files.filter((f) => f !== 'sysdump.json').sort());
    expect(JSON.parse(readFileSync(join(x, 'doctor.json'), 'utf8'))).toMatchObject({ apiVersion: 'multinic.fms.io/v1', kind: 'DoctorReport' });
    expect(JSON.parse(readFileSync(join(x, 'pods/network-status.json'), 'utf8'))).toEqual([{ pod: 'default/train', uid: expect.any(String), node: 'n1', phase: 'Pending', networks: 'multi-nic-sample', networkStatus: '[{"name":"default/multi-nic-sample","interface":"net1-0","ips":["192.168.0.5"]}]' }]);
    const items = (f: string) => (JSON.parse(readFileSync(join(x, `resources/${f}.json`), 'utf8')) as { items: Array<{ metadata: { name: string }; spec: CIDRSpec & { hostName?: string } }> }).items;
    expect(items('cidrs').find((o) => o.metadata.name === 'sd')?.spec.cidr[0]?.hosts).toEqual([]);
    expect(items('cidrclaims').map((o) => [o.metadata.name, o.spec.hostName])).toEqual([['sd.i0', undefined], ['sd.i0.h0', 'n1']]);
    expect(items('cidr-views').find((o) => o.metadata.name === 'sd')?.spec.cidr[0]?.hosts.map((h) => h.hostName)).toEqual(['n1']);
    const log = readFileSync(join(x, `logs/${AGENT_NS}/multinic-agent-abcde.log`), 'utf8');
    expect(log).toContain('discovered NICs');
    expect(log).toContain('"authorization":[REDACTED]');
    expect(log).toContain('retrying with Bearer [REDACTED]');
    expect(log).not.toContain(TOKEN.slice(0, 30));
    expect(JSON.parse(readFileSync(join(x, 'resources/crds.json'.replace('crds', 'customresourcedefinitions')), 'utf8')).items.length).toBeGreaterThan(3);
    const all = files.map((f) => readFileSync(join(x, f), 'utf8')).join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(SECRET_VALUE);
    expect(all).not.toContain('"kind": "Secret"');
  }, 90_000);

  it('checks --output before writing anything: wrong suffix, missing directory, existing file (exit 2)', async () => {
    const exists = join(dir, 'there.tar.gz');
    writeFileSync(exists, 'keep me');
    for (const [o, err] of [[join(dir, 'dump.zip'), /must end in \.tar\.gz or \.tgz/], [join(dir, 'nope', 'd.tgz'), /directory .*nope does not exist/], [exists, /already exists/]] as const) {
      const r = await cli(['-o', o]);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stderr).toMatch(err);
    }
    expect(readFileSync(exists, 'utf8')).toBe('keep me');
    expect(existsSync(join(dir, 'dump.zip'))).toBe(false);
    const size = await cli(['-o', join(dir, 'a.tgz'), '--max-size', 'lots']);
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/--max-size "lots" is not a size/);
  }, 90_000);

  it('a budget that cuts the dump: what is left out and why is recorded inside, the rest is written (exit 0)', async () => {
    const out = join(dir, 'small.tgz');
    const r = await cli(['-o', out, '--max-size', '4Ki']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/files left out by --max-size\)$/m);
    const manifest = JSON.parse(readFileSync(join(unpack(out), 'sysdump.json'), 'utf8')) as SysdumpManifest;
    expect(manifest.skipped.length).toBeGreaterThan(0);
    expect(manifest.skipped[0]?.reason).toMatch(/^size budget: \d+ bytes would pass --max-size \(4096 bytes, \d+ used\)$/);
    expect(manifest.files.reduce((n, f) => n + f.bytes, 0)).toBeLessThanOrEqual(4096);
    const t = join(dir, 'late.tgz');
    const late = await cli(['-o', t, '--timeout', '1ms']);
    expect(late.code, late.stderr).toBe(0);
    const m2 = JSON.parse(readFileSync(join(unpack(t), 'sysdump.json'), 'utf8')) as SysdumpManifest;
    expect(m2.errors.length).toBeGreaterThan(0);
    expect(m2.errors.every((e) => /timed out|not run: the --timeout was used up/.test(e.error))).toBe(true);
    expect(late.stderr).toMatch(/^warning: /m);
  }, 90_000);
});
