// `kubectl multinic plan` through the built executable, as a user (or kubectl) runs it: exit
// code, stdout and stderr. Output shapes are checked against the schemas in schemas/.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import { validateSchema, type FieldError, type JsonSchema } from '../../src/lib/k8s/schema.js';
import { fleet, host, networkDoc, type NetOpts } from '../lib/plan/fixtures.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const schema = (name: string): JsonSchema => JSON.parse(readFileSync(join(root, 'schemas', name), 'utf8')) as JsonSchema;
let dir = '';

// dist/ and oclif.manifest.json are built once by test/helpers/build.ts (vitest globalSetup).
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mn-plan-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const plan = (args: string[], input?: string): CliRun => runCli(['plan', ...args], input === undefined ? {} : { input });
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : stringify(content));
  return p;
}
const net = (o: NetOpts = {}, patch: Record<string, unknown> = {}): unknown => {
  const d = networkDoc(o) as { spec: Record<string, unknown> };
  return { ...d, spec: { ...d.spec, ...patch } };
};
const list = (items: unknown[]): unknown => ({ apiVersion: 'v1', kind: 'List', items });

const BODY: Record<string, string> = { CIDR: 'cidr.json', RoutePlan: 'routeplan.json', List: 'list.json' };
/** One printed plan document against schemas/planresult.json, then its body (and a List's items) by kind. */
function planOutputErrors(doc: unknown): FieldError[] {
  const errs = validateSchema(schema('planresult.json'), doc);
  if (errs.length > 0) return errs;
  const d = doc as { kind: string; items?: Array<{ kind: string }> };
  const strip = (name: string): JsonSchema => {
    const { $id: _id, title: _t, ...s } = schema(name) as JsonSchema & { $id?: string; title?: string };
    return s;
  };
  errs.push(...validateSchema(strip(BODY[d.kind] as string), doc));
  const kinds = new Set((d.items ?? []).map((i) => i.kind));
  if (kinds.size > 1) errs.push({ field: 'items', reason: 'FieldValueInvalid', message: `mixes ${[...kinds].join(' and ')}` });
  (d.items ?? []).forEach((item, i) => errs.push(...validateSchema(strip(BODY[item.kind] as string), item, `items[${i}]`)));
  return errs;
}
const HOSTS = 'examples/hosts.yaml';

describe('plan: the seed network over examples/hosts.yaml', () => {
  it('prints the hosts x NICs grid with pod CIDRs and capacity', () => {
    const r = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS]);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'NETWORK multi-nic-sample: subnet 192.168.0.0/16, interfaceBlock 2, hostBlock 6, 2 NIC network(s), 2 host(s)',
        'HOST    #0 10.0.1.0/24         #1 10.0.2.0/24',
        'host1   192.168.0.0/24 (254)   192.168.64.0/24 (254)',
        'host2   192.168.1.0/24 (254)   192.168.65.0/24 (254)',
        '',
      ].join('\n'),
    });
  });
  it('-o wide adds interface names, host IPs and vlanCIDRs', () => {
    const r = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '-o', 'wide']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('#0 10.0.1.0/24 -> 192.168.0.0/18');
    expect(r.stdout).toContain('192.168.65.0/24 (254) eth2 10.0.2.2');
  });
  it('-o json prints the CIDR resource, valid against schemas/cidr.json and the CRD', () => {
    const r = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '-o', 'json']);
    expect(r.code).toBe(0);
    const cidr = JSON.parse(r.stdout) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { cidr: Array<{ hosts: Array<{ podCIDR: string }> }> } };
    expect([cidr.apiVersion, cidr.kind, cidr.metadata.name]).toEqual(['multinic.fms.io/v1', 'CIDR', 'multi-nic-sample']);
    expect(cidr.spec.cidr.map((e) => e.hosts.map((h) => h.podCIDR))).toEqual([['192.168.0.0/24', '192.168.1.0/24'], ['192.168.64.0/24', '192.168.65.0/24']]);
    expect(validateSchema(schema('cidr.json'), cidr)).toEqual([]);
    expect(Object.keys(cidr)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
  });
  it('-o yaml prints the same object', () => {
    const y = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '-o', 'yaml']);
    const j = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '-o', 'json']);
    expect(parse(y.stdout)).toEqual(JSON.parse(j.stdout));
  });
  it('--routes -o json prints a RoutePlan valid against schemas/routeplan.json', () => {
    const r = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '--routes', '-o', 'json']);
    expect(r.code).toBe(0);
    const rp = JSON.parse(r.stdout) as { hosts: Array<{ hostName: string; routes: unknown[] }> };
    expect(validateSchema(schema('routeplan.json'), rp)).toEqual([]);
    expect(rp.hosts[0]).toEqual({ hostName: 'host1', routes: [{ dev: 'eth1', dst: '192.168.1.0/24', table: 'multi-nic-sample', via: '10.0.1.2' }, { dev: 'eth2', dst: '192.168.65.0/24', table: 'multi-nic-sample', via: '10.0.2.2' }] });
  });
  it('--routes prints a routes table with the rule', () => {
    const r = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '--routes']);
    expect(r.stdout).toMatch(/rule: from 192\.168\.0\.0\/16 lookup multi-nic-sample/);
    expect(r.stdout).toMatch(/host1\s+192\.168\.1\.0\/24\s+10\.0\.1\.2\s+eth1\s+multi-nic-sample/);
  });
  it('-f - reads the network from stdin; DeviceClasses are validated alongside', () => {
    const input = `${readFileSync(join(root, 'examples/network.yaml'), 'utf8')}---\n${readFileSync(join(root, 'examples/deviceclass-highspeed.yaml'), 'utf8')}`;
    const r = plan(['-f', '-', '--inventory', HOSTS, '-o', 'json'], input);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { kind: string }).kind).toBe('CIDR');
  });
  it('several networks print a v1 List of CIDRs', () => {
    const r = plan(['-f', 'examples/network-devclass.yaml', '-f', 'examples/network-topology.yaml', '--inventory', HOSTS, '-o', 'json']);
    expect(r.code).toBe(0);
    const l = JSON.parse(r.stdout) as { items: Array<{ metadata: { name: string } }> };
    expect(validateSchema(schema('list.json'), l)).toEqual([]);
    expect(l.items.map((i) => i.metadata.name)).toEqual(['multi-nic-devclass', 'multi-nic-topology']);
    for (const item of l.items) expect(validateSchema(schema('cidr.json'), item)).toEqual([]);
  });
  it('examples/network-masternets.yaml: wide masterNets entries cover NIC networks; pool problems are warned about on stderr', () => {
    // Its masterNets (10.0.0.0/16, 10.1.0.0/16) suit hosts with 10.0.x and 10.1.x NICs; both NICs of
    // examples/hosts.yaml fall into 10.0.0.0/16.
    const r = plan(['-f', 'examples/network-masternets.yaml', '--inventory', HOSTS]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/host1\s+192\.168\.0\.0\/24 \(254\)\s+-/);
    expect(r.stderr).toMatch(/warning: multi-nic-sample: host1 has 2 NICs on 10\.0\.0\.0\/16 \(eth1, eth2\): only eth1 gets a pod block.*\[DuplicateNicOnNetwork\]/);
    expect(r.stderr).toMatch(/no host has a NIC on 10\.1\.0\.0\/16 .*\[HostMissingNetwork\]/);
    const uncovered = plan(['-f', file('m.yaml', net({ masterNets: ['10.0.1.0/24'] })), '--inventory', HOSTS]);
    expect(uncovered.stderr).toMatch(/NIC network 10\.0\.2\.0\/24 \(host1\/eth2, host2\/eth2\) is not covered by any masterNets entry.*\[UncoveredNic\]/);
  });
  it('--previous keeps indexes: a re-plan of its own output is identical, and a new host takes the lowest free index', () => {
    const first = plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '-o', 'yaml']);
    const prev = file('prev.yaml', first.stdout);
    expect(plan(['-f', 'examples/network.yaml', '--inventory', HOSTS, '--previous', prev, '-o', 'yaml']).stdout).toBe(first.stdout);
    const inv = file('grown.yaml', list([host('host0', [['eth1', '10.0.1.0/24', '10.0.1.100'], ['eth2', '10.0.2.0/24', '10.0.2.100']]), host('host2', [['eth1', '10.0.1.0/24', '10.0.1.2'], ['eth2', '10.0.2.0/24', '10.0.2.2']])]));
    const r = plan(['-f', 'examples/network.yaml', '--inventory', inv, '--previous', prev]);
    expect(r.stdout).toMatch(/host0\s+192\.168\.0\.0\/24 \(254\)\s+192\.168\.64\.0\/24/);
    expect(r.stdout).toMatch(/host2\s+192\.168\.1\.0\/24 \(254\)\s+192\.168\.65\.0\/24/);
  });
  it('pool warnings go to stderr, never stdout', () => {
    const inv = file('mtu.yaml', list([host('a', [['eth1', '10.0.1.0/24', '10.0.1.1', { mtu: 9000 }]]), host('b', [['eth1', '10.0.1.0/24', '10.0.1.1', { mtu: 1500 }]])]));
    const r = plan(['-f', file('n.yaml', net()), '--inventory', inv, '-o', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\[DuplicateHostIP\]/);
    expect(r.stderr).toMatch(/\[MtuMismatch\]/);
    expect(() => JSON.parse(r.stdout) as unknown).not.toThrow();
  });
});

describe('plan: more hosts than 2^hostBlock', () => {
  it('prints the plan for the hosts that fit, names the others on stderr, exits 1', () => {
    const inv = file('five.yaml', list(fleet(5, ['10.0.1.0/24'])));
    const r = plan(['-f', file('small.yaml', net({ subnet: '192.168.0.0/24', interfaceBlock: 0, hostBlock: 2 })), '--inventory', inv]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/h003\s+192\.168\.0\.192\/26 \(62\)/);
    expect(r.stdout).not.toContain('h004');
    expect(r.stderr).toMatch(/error: net: h004\/eth0 on 10\.0\.1\.0\/24 was not placed: all 4 host indexes of hostBlock 2 on 10\.0\.1\.0\/24 are taken; raise hostBlock/);
    expect(r.stderr).toMatch(/1 host\(s\) did not fit/);
  });
});

interface Bad {
  name: string;
  args: () => string[];
  stdin?: string;
  err: RegExp;
}
const inv = (): string => HOSTS;
const nf = (name: string, doc: unknown): string[] => ['-f', file(name, doc), '--inventory', inv()];

const bad: Bad[] = [
  { name: 'invalid subnet CIDR', args: () => nf('b1.yaml', net({ subnet: '192.168.0.0/33' })), err: /b1\.yaml#1 \(MultiNicNetwork "net"\): spec\.subnet: /s },
  { name: 'subnet with host bits', args: () => nf('b2.yaml', net({ subnet: '192.168.3.0/16' })), err: /spec\.subnet: .*did you mean 192\.168\.0\.0\/16/ },
  { name: 'IPv4 and IPv6 mixed', args: () => nf('b3.yaml', net({ masterNets: ['fd00:1::/64'] })), err: /spec\.masterNets\[0\]: fd00:1::\/64 is IPv6 but spec\.subnet is IPv4/ },
  { name: 'negative hostBlock', args: () => nf('b4.yaml', net({ hostBlock: -2 })), err: /spec\.ipam\.hostBlock: must be a non-negative integer/ },
  { name: 'non-integer interfaceBlock', args: () => nf('b5.yaml', net({ interfaceBlock: 0.5 })), err: /spec\.ipam\.interfaceBlock: must be a non-negative integer/ },
  { name: 'fewer than 2 pod bits', args: () => nf('b6.yaml', net({ hostBlock: 10, interfaceBlock: 5 })), err: /spec\.ipam: subnet prefix \/16 \+ interfaceBlock 5 \+ hostBlock 10 leaves 1 pod address bits/ },
  { name: 'more masterNets than 2^interfaceBlock', args: () => nf('b7.yaml', net({ interfaceBlock: 0, masterNets: ['10.0.1.0/24', '10.0.2.0/24'] })), err: /spec\.masterNets: 2 NIC networks but interfaceBlock 0 gives only 1/ },
  { name: 'more discovered NIC networks than 2^interfaceBlock', args: () => nf('b8.yaml', net({ interfaceBlock: 0 })), err: /spec\.masterNets: empty, so every NIC network in the inventory is used: 2/ },
  { name: 'overlapping masterNets', args: () => nf('b9.yaml', net({ masterNets: ['10.0.0.0/8', '10.0.1.0/24'] })), err: /spec\.masterNets\[1\]: 10\.0\.1\.0\/24 overlaps spec\.masterNets\[0\] 10\.0\.0\.0\/8/ },
  { name: 'exclude outside the subnet', args: () => nf('b10.yaml', net({ excludeCIDRs: ['172.16.0.0/24'] })), err: /spec\.ipam\.excludeCIDRs\[0\]: 172\.16\.0\.0\/24 is not inside spec\.subnet/ },
  { name: 'subnet overlapping a host NIC network', args: () => nf('b11.yaml', net({ subnet: '10.0.0.0/16' })), err: /spec\.subnet: 10\.0\.0\.0\/16 overlaps NIC network 10\.0\.1\.0\/24 of host1\/eth1/ },
  { name: 'unknown strategy', args: () => nf('b12.yaml', net({}, { attachPolicy: { strategy: 'random' } })), err: /spec\.attachPolicy\.strategy: Unsupported value: "random"/ },
  { name: 'ipam not JSON', args: () => nf('b13.yaml', net({}, { ipam: 'hostBlock: 6' })), err: /spec\.ipam: is not valid JSON/ },
  { name: 'YAML that is not a MultiNicNetwork', args: () => nf('b14.yaml', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }), err: /b14\.yaml#1: expected a MultiNicNetwork or DeviceClass, got ConfigMap "cm"/ },
  { name: 'YAML syntax error', args: () => nf('b15.yaml', 'kind: MultiNicNetwork\nspec: [\n'), err: /b15\.yaml#1: not valid YAML or JSON at line/ },
  { name: 'no -f', args: () => ['--inventory', inv()], err: /Missing required flag filename/ },
  { name: '-f file not found', args: () => ['-f', join(dir, 'nope.yaml'), '--inventory', inv()], err: /cannot read .*nope\.yaml: no such file/ },
  { name: 'inventory with a hostIP outside its network', args: () => ['-f', 'examples/network.yaml', '--inventory', file('i1.yaml', list([host('x', [['eth1', '10.0.1.0/24', '10.0.9.1']])]))], err: /i1\.yaml#1\.items\[0\] \(HostInterface "x"\): spec\.interfaces\[0\]\.hostIP: 10\.0\.9\.1 is not inside/ },
  { name: 'inventory that holds a network', args: () => ['-f', 'examples/network.yaml', '--inventory', 'examples/network.yaml'], err: /examples\/network\.yaml#1 .*kind: expected a HostInterface, got MultiNicNetwork/ },
  { name: '--previous that is not a CIDR', args: () => ['-f', 'examples/network.yaml', '--inventory', inv(), '--previous', HOSTS], err: /--previous|expected a CIDR, got HostInterface "host1"/ },
  { name: 'bad DeviceClass vendor id', args: () => nf('b16.yaml', { apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'd' }, spec: { ids: [{ vendor: 'xyz', products: [] }] } }), err: /DeviceClass "d"\): spec\.ids\[0\]\.vendor/ },
  { name: 'only DeviceClasses', args: () => ['-f', 'examples/deviceclass-highspeed.yaml', '--inventory', inv()], err: /no MultiNicNetwork in examples\/deviceclass-highspeed\.yaml/ },
  { name: 'the same network twice', args: () => ['-f', 'examples/network.yaml', '-f', 'examples/network-masternets.yaml', '--inventory', inv()], err: /MultiNicNetwork "multi-nic-sample" is also defined in examples\/network\.yaml#1/ },
  { name: 'a network whose IPAM is not multi-nic-ipam', args: () => nf('b17.yaml', net({}, { ipam: '{"type":"whereabouts"}' })), err: /no network uses ipam type "multi-nic-ipam"/ },
  { name: 'unknown output format', args: () => ['-f', 'examples/network.yaml', '--inventory', inv(), '-o', 'csv'], err: /unable to match a printer suitable for the output format "csv", allowed formats are: json,jsonpath,jsonpath-as-json,jsonpath-file,name,table,wide,yaml/ },
  { name: 'unknown flag', args: () => ['-f', 'examples/network.yaml', '--inventory', inv(), '--subnet', 'x'], err: /Nonexistent flag: --subnet/ },
  { name: 'bad network on stdin', args: () => ['-f', '-', '--inventory', inv()], stdin: stringify(net({ hostBlock: -1 })), err: /stdin#1 \(MultiNicNetwork "net"\): spec\.ipam\.hostBlock/ },
  { name: 'two networks with overlapping subnets in one file', args: () => nf('b19.yaml', `${stringify(net({ name: 'wide', subnet: '192.168.0.0/16' }))}---\n${stringify(net({ name: 'narrow', subnet: '192.168.8.0/21' }))}`), err: /b19\.yaml#2 \(MultiNicNetwork "narrow"\): spec\.subnet: 192\.168\.8\.0\/21 overlaps subnet 192\.168\.0\.0\/16 of MultiNicNetwork "wide" \(defined in .*b19\.yaml#1\)/ },
  { name: 'missing plugin', args: () => nf('b18.yaml', net({}, { plugin: undefined })), err: /spec\.plugin: Required value/ },
];

describe('plan: bad input exits 2 with a message naming document, field and fix, and nothing on stdout', () => {
  it.each(bad)('$name', ({ args, stdin, err }) => {
    const r = plan(args(), stdin);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(err);
    expect(r.stderr).toMatch(/(^|\n)error: /);
    expect(r.stderr).toMatch(/\nhint: /);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for user errors
  });
});

describe('schemas/', () => {
  it('schemas/cidr.json is the CIDR CRD schema (no drift from deploy/crds)', () => {
    const { $id: _id, title: _t, ...s } = schema('cidr.json') as JsonSchema & { $id?: string; title?: string };
    const crd = CRDS.find((c) => c.spec.names.kind === 'CIDR');
    expect(s).toEqual(JSON.parse(JSON.stringify(crd?.spec.versions[0]?.schema.openAPIV3Schema)));
  });
  it.each([
    ['one network', ['-f', 'examples/network.yaml'], 'CIDR'],
    ['one network, --routes', ['-f', 'examples/network.yaml', '--routes'], 'RoutePlan'],
    ['two networks', ['-f', 'examples/network-devclass.yaml', '-f', 'examples/network-topology.yaml'], 'List'],
    ['two networks, --routes', ['-f', 'examples/network-devclass.yaml', '-f', 'examples/network-topology.yaml', '--routes'], 'List'],
  ])('every document plan -o json|yaml prints is valid against schemas/planresult.json and its kind\'s schema: %s', (_n, args, kind) => {
    for (const fmt of ['json', 'yaml']) {
      const r = plan([...args, '--inventory', HOSTS, '-o', fmt]);
      expect(r.code, r.stderr).toBe(0);
      const doc = (fmt === 'json' ? JSON.parse(r.stdout) : parse(r.stdout)) as { kind: string };
      expect(doc.kind).toBe(kind);
      expect(planOutputErrors(doc)).toEqual([]);
    }
  });
  it('planresult.json and its kinds can fail: an unknown kind, a List mixing CIDRs and RoutePlans, a RoutePlan item without hosts', () => {
    expect(planOutputErrors({ apiVersion: 'multinic.fms.io/v1', kind: 'Plan' }).map((e) => e.field)).toEqual(['kind']);
    const rp = { apiVersion: 'multinic.fms.io/v1', kind: 'RoutePlan', network: 'n', subnet: '', hosts: [] };
    const cidr = { apiVersion: 'multinic.fms.io/v1', kind: 'CIDR', metadata: { name: 'n' }, spec: { config: { name: 'n', subnet: '10.0.0.0/16', type: 'macvlan', hostBlock: 8, interfaceBlock: 2, masterNets: [] }, cidr: [] } };
    expect(planOutputErrors({ apiVersion: 'v1', kind: 'List', items: [rp, cidr] }).map((e) => e.field)).toContain('items');
    const { hosts: _h, ...noHosts } = rp;
    expect(planOutputErrors({ apiVersion: 'v1', kind: 'List', items: [rp, noHosts] }).map((e) => e.field)).toEqual(['items[1].hosts']);
  });
  it('routeplan.json rejects a RoutePlan without routes (the schema can fail)', () => {
    expect(validateSchema(schema('routeplan.json'), { apiVersion: 'multinic.fms.io/v1', kind: 'RoutePlan', network: 'n', subnet: '', hosts: [{ hostName: 'a' }] })).toEqual([{ field: 'hosts[0].routes', reason: 'FieldValueRequired', message: 'Required value' }]);
  });
});
