// -o on every command that prints data, through the built executable against the API stand-in, and
// compared with what the real kubectl prints for the same objects: `-o name` against `kubectl get
// -o name`, JSONPath templates against `kubectl get -o jsonpath=…` on the cluster's objects and
// against `kubectl label --local -f REPORT.json -o jsonpath=…` on our own reports, errors included.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore', env: { ...process.env, KUBECONFIG: '/dev/null' } }).status === 0;
const run = promisify(execFile);
const seed = join(repoRoot, 'examples/network.yaml');

let server: ApiServer;
let dir: string;
let kubeconfig: string;
let appliedNames = '';
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCliAsync([...args, '--kubeconfig', kubeconfig], { env });

async function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('kubectl', [...args, '--kubeconfig', kubeconfig], { env: { ...process.env, HOME: dir }, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
const sorted = (text: string) => text.split('\n').filter(Boolean).sort();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kc-output-'));
  server = await startApiServer();
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
  for (const n of ['host1', 'host2']) server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } });
  const inv = parse(readFileSync(join(repoRoot, 'examples/hosts.yaml'), 'utf8')) as { items: KubeObject[] };
  for (const h of inv.items) server.store.create(h);
  // apply writes the network and, from the plan, its CIDR.
  const applied = await cli(['apply', '-f', seed, '--no-wait', '-o', 'name']);
  expect(applied.code, applied.stderr).toBe(0);
  appliedNames = applied.stdout;
  // One IPPool per pool, as the agents make them.
  const show = await cli(['ipam', 'show', '-o', 'json']);
  for (const p of (JSON.parse(show.stdout) as { pools: Array<{ pool: string; podCIDR: string; node: string; nic: string; network: string }> }).pools) {
    server.store.create({
      apiVersion: 'multinic.fms.io/v1',
      kind: 'IPPool',
      metadata: { name: p.pool },
      spec: { podCIDR: p.podCIDR, vlanCIDR: p.podCIDR, netAttachDef: p.network, hostName: p.node, interfaceName: p.nic, excludes: [], allocations: [] },
    } as KubeObject);
  }
}, 120_000);
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('-o name: kind.group/name, as kubectl get -o name prints the same objects', () => {
  it('status names the networks, ipam show the IPPools, plan the CIDRs', async () => {
    const status = await cli(['status', '-o', 'name']);
    const ipam = await cli(['ipam', 'show', '-o', 'name']);
    const plan = await cli(['plan', '-f', seed, '-o', 'name']);
    expect(status.stdout).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample\n');
    expect(plan.stdout).toBe('cidr.multinic.fms.io/multi-nic-sample\n');
    expect(sorted(ipam.stdout)).toHaveLength(4);
    expect(sorted(ipam.stdout).every((l) => l.startsWith('ippool.multinic.fms.io/multi-nic-sample-'))).toBe(true);
    if (!hasKubectl) return; // reason: the comparison needs the kubectl binary; the expectations above still hold
    expect(status.stdout).toBe((await kubectl(['get', 'multinicnetworks', '-o', 'name'])).stdout);
    expect(plan.stdout).toBe((await kubectl(['get', 'cidrs', '-o', 'name'])).stdout);
    expect(sorted(ipam.stdout)).toEqual(sorted((await kubectl(['get', 'ippools', '-o', 'name'])).stdout));
  }, 60_000);

  it('apply names what it wrote: the network and its DRA DeviceClass (the stand-in serves resource.k8s.io)', async () => {
    expect(appliedNames).toBe('multinicnetwork.multinic.fms.io/multi-nic-sample\ndeviceclass.resource.k8s.io/multi-nic-sample.multinic.fms.io\n');
    if (!hasKubectl) return; // reason: the comparison needs the kubectl binary
    const k = [(await kubectl(['get', 'multinicnetworks', '-o', 'name'])).stdout, (await kubectl(['get', 'deviceclasses.resource.k8s.io', '-o', 'name'])).stdout].join('');
    expect(appliedNames).toBe(k);
  });

  it('install --dry-run=client -o name names every manifest as kubectl does', async () => {
    const names = await runCliAsync(['install', '--dry-run=client', '-o', 'name']);
    expect(names.code, names.stderr).toBe(0);
    expect(names.stdout).toMatch(/^customresourcedefinition\.apiextensions\.k8s\.io\/multinicnetworks\.multinic\.fms\.io$/m);
    expect(names.stdout).toMatch(/^daemonset\.apps\/multinic-agent$/m);
    expect(names.stdout).toMatch(/^namespace\/\S+$/m);
    if (!hasKubectl) return; // reason: the comparison needs the kubectl binary
    const yaml = await runCliAsync(['install', '--dry-run=client', '-o', 'yaml']);
    const f = join(dir, 'install.yaml');
    writeFileSync(f, yaml.stdout);
    const k = await kubectl(['label', '--local', '-f', f, 'zz-', '-o', 'name']);
    expect(k.code, k.stderr).toBe(0);
    expect(names.stdout).toBe(k.stdout);
  }, 60_000);

  it('a command whose data are not objects refuses -o name, listing the formats it has (exit 2)', async () => {
    const r = await cli(['doctor', '-o', 'name', '--timeout', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: unable to match a printer suitable for the output format "name", allowed formats are: json,jsonpath,jsonpath-as-json,jsonpath-file,table,yaml');
  });
});

const CIDR_TEMPLATES = [
  '{.metadata.name}',
  '{.spec.cidr[*].hosts[*].podCIDR}',
  '{range .spec.cidr[*]}{.netAddress}{"\\t"}{.vlanCIDR}{"\\n"}{end}',
  '{.spec.cidr[?(@.interfaceIndex==1)].hosts[?(@.hostName=="host2")].podCIDR}',
  '{.spec.config}',
  '{.spec.missing}',
];

describe('-o jsonpath: the same text as kubectl', () => {
  // The cluster's CIDR keeps its host entries in CIDRClaims (docs/scale.md), so kubectl is given the
  // CIDR document plan prints (plan == apply is test/agent/kube/plan-apply.test.ts).
  const planFile = async (): Promise<string> => {
    const f = join(dir, 'plan-cidr.json');
    writeFileSync(f, (await cli(['plan', '-f', seed, '-o', 'json'])).stdout);
    return f;
  };

  it('plan prints what kubectl prints for the same CIDR document', async () => {
    const f = await planFile();
    for (const t of CIDR_TEMPLATES) {
      const ours = await cli(['plan', '-f', seed, '-o', `jsonpath=${t}`]);
      expect(ours.code, `${t}: ${ours.stderr}`).toBe(0);
      if (t === '{.metadata.name}') expect(ours.stdout).toBe('multi-nic-sample');
      if (t === '{.spec.cidr[*].hosts[*].podCIDR}') expect(ours.stdout).toBe('192.168.0.0/24 192.168.1.0/24 192.168.64.0/24 192.168.65.0/24');
      if (!hasKubectl) continue; // reason: the comparison needs the kubectl binary
      const k = await kubectl(['label', '--local', '-f', f, 'zz-', '-o', `jsonpath=${t}`]);
      expect(k.code, k.stderr).toBe(0);
      expect(ours.stdout, t).toBe(k.stdout);
    }
  }, 120_000);

  it('status, ipam show and version print what kubectl prints for the same report object', async (ctx) => {
    const cases: Array<[string[], string[]]> = [
      [['status'], ['{.kind}', '{.networks[*].name}', '{range .networks[*].hosts[*]}{.hostName}:{.ready}{"\\n"}{end}', '{.agents}', '{.nodes[0]}']],
      [['ipam', 'show'], ['{.pools[*].capacity}', '{range .pools[*]}{.node}/{.nic} {.podCIDR} {.used}{"\\n"}{end}', '{.pools[?(@.nic=="eth2")].pool}']],
      [['version', '--client'], ['{.client.version}', '{.warnings}']],
    ];
    for (const [cmd, templates] of cases) {
      const json = await cli([...cmd, '-o', 'json']);
      const file = join(dir, `${cmd.join('-')}.json`);
      writeFileSync(file, json.stdout);
      for (const t of templates) {
        const ours = await cli([...cmd, '-o', `jsonpath=${t}`]);
        expect(ours.stdout.length, `${cmd.join(' ')} ${t}`).toBeGreaterThan(0);
        if (!hasKubectl) continue;
        const k = await kubectl(['label', '--local', '-f', file, 'zz-', '-o', `jsonpath=${t}`]);
        expect(k.code, k.stderr).toBe(0);
        expect(ours.stdout, `${cmd.join(' ')} ${t}`).toBe(k.stdout);
      }
    }
    if (!hasKubectl) ctx.skip(); // reason: the comparisons need the kubectl binary (our outputs were checked non-empty)
  }, 180_000);

  it('jsonpath-as-json and jsonpath-file print as kubectl does', async () => {
    const t = '{.spec.cidr[*].interfaceIndex}{.metadata.name}';
    const tf = join(dir, 'template.txt');
    writeFileSync(tf, '{range .spec.cidr[*]}{.vlanCIDR}{"\\n"}{end}');
    const asJson = await cli(['plan', '-f', seed, '-o', `jsonpath-as-json=${t}`]);
    const fromFile = await cli(['plan', '-f', seed, '-o', `jsonpath-file=${tf}`]);
    expect(asJson.stdout).toBe('[\n    0,\n    1\n]\n[\n    "multi-nic-sample"\n]\n');
    expect(fromFile.stdout).toBe('192.168.0.0/18\n192.168.64.0/18\n');
    if (!hasKubectl) return; // reason: the comparison needs the kubectl binary
    const f = await planFile();
    expect(asJson.stdout).toBe((await kubectl(['label', '--local', '-f', f, 'zz-', '-o', `jsonpath-as-json=${t}`])).stdout);
    expect(fromFile.stdout).toBe((await kubectl(['label', '--local', '-f', f, 'zz-', '-o', `jsonpath-file=${tf}`])).stdout);
  }, 60_000);
});

describe('-o errors: kubectl\'s wording, exit 2', () => {
  it('a malformed template fails before the cluster is asked anything', async () => {
    const dead = join(dir, 'dead');
    await writeKubeconfig(dead, 'http://127.0.0.1:1');
    const r = await runCliAsync(['status', '-o', 'jsonpath={.networks[0', '--kubeconfig', dead]);
    expect(r.code).toBe(2); // not 3: the unreachable cluster was never asked
    expect(r.stdout).toBe('');
    const first = r.stderr.split('\n')[0];
    expect(first).toBe('error: error parsing jsonpath {.networks[0, unterminated array');
    if (!hasKubectl) return; // reason: the comparison needs the kubectl binary
    const k = await kubectl(['get', 'cidr', 'multi-nic-sample', '-o', 'jsonpath={.networks[0']);
    expect(k.code).toBe(1);
    expect(k.stderr.split('\n')[0]).toBe(first);
  });

  it('a missing field prints nothing, or with --allow-missing-template-keys=false fails as kubectl does', async () => {
    const lenient = await cli(['plan', '-f', seed, '-o', 'jsonpath=[{.spec.nope}]']);
    expect(lenient).toMatchObject({ code: 0, stdout: '[]' });
    const strict = await cli(['plan', '-f', seed, '-o', 'jsonpath={.spec.nope.deeper}', '--allow-missing-template-keys=false']);
    expect(strict.code).toBe(2);
    expect(strict.stdout).toBe('');
    const first = strict.stderr.split('\n')[0];
    expect(first).toBe('error: error executing jsonpath "{.spec.nope.deeper}": Error executing template: nope is not found. Printing more information for debugging the template:');
    expect((await cli(['plan', '-f', seed, '-o', 'jsonpath={.spec.config.subnet}', '--no-allow-missing-template-keys'])).stdout).toBe('192.168.0.0/16');
    if (!hasKubectl) return; // reason: the comparison needs the kubectl binary
    const k = await kubectl(['get', 'cidr', 'multi-nic-sample', '-o', 'jsonpath={.spec.nope.deeper}', '--allow-missing-template-keys=false']);
    expect(k.code).toBe(1);
    expect(k.stderr.split('\n')[0]).toBe(first);
  });

  it('an unknown format, a template format without a template, a missing template file', async () => {
    const bad = await cli(['ipam', 'show', '-o', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: unable to match a printer suitable for the output format "xml", allowed formats are: json,jsonpath,jsonpath-as-json,jsonpath-file,name,table,wide,yaml');
    const empty = await cli(['ipam', 'show', '-o', 'jsonpath=']);
    expect(empty.code).toBe(2);
    expect(empty.stderr.split('\n')[0]).toBe('error: template format specified but no template given');
    const nofile = await cli(['ipam', 'show', '-o', `jsonpath-file=${join(dir, 'none.txt')}`]);
    expect(nofile.code).toBe(2);
    expect(nofile.stderr.split('\n')[0]).toBe(`error: error reading --template ${join(dir, 'none.txt')}, open ${join(dir, 'none.txt')}: no such file or directory`);
    if (!hasKubectl) return; // reason: the comparison needs the kubectl binary
    expect((await kubectl(['get', 'ippools', '-o', 'jsonpath='])).stderr.split('\n')[0]).toBe(empty.stderr.split('\n')[0]);
    expect((await kubectl(['get', 'ippools', '-o', `jsonpath-file=${join(dir, 'none.txt')}`])).stderr.split('\n')[0]).toBe(nofile.stderr.split('\n')[0]);
  });
});
