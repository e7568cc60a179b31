// The JSONPath engine (src/lib/jsonpath.ts) against real kubectl: each template runs through
// `kubectl label --local -f FIXTURE zz- -o jsonpath=…` (no cluster; the label command on a label
// the object lacks leaves it as it is) and through our engine; output, and success or failure,
// must be the same. Then the cases kubectl cannot be asked about offline, with their expected text.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonPath, JsonPathError, goFloat } from '../../src/lib/jsonpath.js';

const run = promisify(execFile);

const FIXTURE = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'CIDR',
  metadata: { name: 'multi-nic-sample', labels: { 'kubernetes.io/hostname': 'host1', app: 'x' }, annotations: { note: 'a<b&c "q"' } },
  spec: {
    config: { name: 'multi-nic-sample', subnet: '192.168.0.0/16', hostBlock: 8, interfaceBlock: 2, excludes: [] },
    cidr: [
      {
        netAddress: '10.0.0.0/24',
        interfaceIndex: 0,
        vlanCIDR: '192.168.0.0/18',
        hosts: [
          { hostName: 'host1', hostIndex: 0, podCIDR: '192.168.0.0/26', interfaceName: 'eth1', ipPool: 'p-0' },
          { hostName: 'host2', hostIndex: 1, podCIDR: '192.168.1.0/26', interfaceName: 'eth1', ipPool: 'p-1', spare: true },
        ],
      },
      {
        netAddress: '10.0.1.0/24',
        interfaceIndex: 1,
        vlanCIDR: '192.168.64.0/18',
        hosts: [{ hostName: 'host1', hostIndex: 0, podCIDR: '192.168.64.0/26', interfaceName: 'eth2', ipPool: 'p-2' }],
      },
    ],
  },
  status: { ratio: 0.25, tiny: 0.00001, big: 1234567.5, huge: 1e21, count: 100000000, ok: true, nothing: null, empty: {}, none: [] },
};

// Every template: its output and exit status must match kubectl's.
const TEMPLATES = [
  '{.metadata.name}',
  'name={.metadata.name} kind={.kind}\\n',
  '{.metadata.name}{"\\n"}',
  "{.metadata.name}{'\\t'}{.kind}",
  '{.spec.cidr[*].netAddress}',
  '{.spec.cidr[0].hosts[*].hostName}',
  '{.spec.cidr[*].hosts[*].podCIDR}',
  '{.spec.cidr[-1].netAddress}',
  '{.spec.cidr[0].hosts[1:].hostName}',
  '{.spec.cidr[0].hosts[:1].hostName}',
  '{.spec.cidr[0].hosts[0:2:2].hostName}',
  '{.spec.cidr[0].hosts[0,1].ipPool}',
  "{.spec.cidr[0].hosts[0]['podCIDR']}",
  '{.spec.cidr[5].netAddress}',
  '{.spec.cidr[0:0]}',
  '{.spec.cidr[1:0]}',
  '{.spec.cidr[::0]}',
  '{.spec.cidr[0]}',
  '{.spec.config}',
  '{.metadata.labels.kubernetes\\.io/hostname}',
  '{.metadata.annotations.note}',
  '{.metadata.annotations}',
  '{.status.ratio} {.status.tiny} {.status.big} {.status.huge} {.status.count} {.status.ok} {.status.nothing}',
  '{.status.empty} {.status.none} {.spec.config.excludes}',
  '{.missing} {.spec.missing.deeper} [{.metadata.name.x}]',
  '{.}',
  '{@}',
  '{$.kind}',
  '{..hostName}',
  '{..interfaceIndex}',
  '{range .spec.cidr[*]}{.netAddress}{"\\n"}{end}',
  '{range .spec.cidr[*]}[{.netAddress}:{range .hosts[*]} {.hostName}={.podCIDR}{end}]{end}',
  '{range .spec.cidr[*].hosts[*]}{.hostName}{","}{end}',
  '{range .spec.missing[*]}x{end}after',
  '{range .spec.cidr[*]}{.netAddress}',
  '{.spec.cidr[?(@.interfaceIndex==1)].netAddress}',
  '{.spec.cidr[?(@.netAddress=="10.0.0.0/24")].vlanCIDR}',
  "{.spec.cidr[*].hosts[?(@.hostName!='host1')].podCIDR}",
  '{.spec.cidr[0].hosts[?(@.hostIndex>0)].hostName}',
  '{.spec.cidr[0].hosts[?(@.hostIndex<=1)].hostName}',
  '{.spec.cidr[0].hosts[?(@.spare)].hostName}',
  '{.spec.cidr[0].hosts[?(@.spare==true)].hostName}',
  '{.spec.cidr[?(@.interfaceIndex==1.0)].netAddress}',
  '{.spec.cidr[?(@.hosts==1)].netAddress}',
  '{.spec.cidr[?(@.netAddress>1)].netAddress}',
  '{.spec.cidr[?(@.hosts[*].hostName=="host1")].netAddress}',
  '{.spec.cidr[?(@.netAddress=~"10")].netAddress}',
  '{.spec.config[?(@.x==1)]}',
  '{.spec.config[0]}',
  '{.spec.config.subnet[0]}',
  '{"literal"} {1} {2.5} {true} {-3}',
  '{end}',
  '{range .spec.cidr[*]}{end}{end}',
  '{.metadata.name',
  '{.metadata.name}}',
  '{.spec.cidr[0}',
  '{.spec.cidr[a]}',
  '{.spec.cidr[-]}',
  '{.spec.cidr[?(@.x==1]}',
  '{"unterminated}',
  '{.spec.cidr[*]\t.netAddress}',
  '{....a}',
  '{.a..}',
  '{foo}',
  '{.a * .b}',
  '{"\\q"}',
  '{.spec.cidr[*].hosts[0].hostName}',
  '{.spec.cidr[*]}',
  'no actions at all',
  '',
];

let dir = '';
let fixture = '';
let kubectl = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-jsonpath-'));
  fixture = join(dir, 'cidr.json');
  writeFileSync(fixture, JSON.stringify(FIXTURE));
  kubectl = await run('kubectl', ['version', '--client'], { env: { ...process.env, KUBECONFIG: join(dir, 'none') } })
    .then(() => 'kubectl')
    .catch(() => '');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function viaKubectl(template: string, as = 'jsonpath', strict = false): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run(kubectl, ['label', '--local', '-f', fixture, 'zz-', `-o`, `${as}=${template}`, ...(strict ? ['--allow-missing-template-keys=false'] : [])], { env: { ...process.env, KUBECONFIG: join(dir, 'none') } });
    return { ok: true, out: r.stdout };
  } catch (e) {
    return { ok: false, out: (e as { stdout?: string }).stdout ?? '' };
  }
}
function viaUs(template: string, asJson = false, strict = false): { ok: boolean; out: string; error?: string } {
  try {
    const p = JsonPath.parse(template);
    const opts = { allowMissingKeys: !strict };
    return { ok: true, out: asJson ? p.executeAsJson(FIXTURE, opts) : p.execute(FIXTURE, opts) };
  } catch (e) {
    if (!(e instanceof JsonPathError)) throw e;
    return { ok: false, out: '', error: e.message };
  }
}

describe('jsonpath: the same output as kubectl for each template', () => {
  it('every template (kubectl is on PATH)', async (ctx) => {
    if (!kubectl) ctx.skip(); // reason: kubectl is not installed on this machine
    const mismatches: string[] = [];
    const queue = [...TEMPLATES.map((t) => [t, 'jsonpath'] as const), ...['{.spec.cidr[*].interfaceIndex}{.metadata.name}', '{.spec.config}', '{.missing}'].map((t) => [t, 'jsonpath-as-json'] as const)];
    const worker = async (): Promise<void> => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const [t, as] = job;
        const want = await viaKubectl(t, as);
        const got = viaUs(t, as === 'jsonpath-as-json');
        if (want.ok !== got.ok || (want.ok && want.out !== got.out)) {
          mismatches.push(`${as} ${JSON.stringify(t)}: kubectl ${want.ok ? JSON.stringify(want.out) : 'fails'}, ours ${got.ok ? JSON.stringify(got.out) : `fails (${got.error})`}`);
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(mismatches).toEqual([]);
  }, 120_000);
});

// --allow-missing-template-keys=false: a field no input has fails; one some inputs have does not.
const STRICT = [
  '{.metadata.name}',
  '{.missing}',
  '{.spec.missing.deeper}',
  '{.spec.cidr[*].hosts[*].spare}',
  '{.spec.cidr[*].nope}',
  '{range .spec.cidr[*]}{.netAddress}{.nope}{end}',
  '{.spec.cidr[?(@.nope=="x")].netAddress}',
  '{.spec.cidr[?(@.nope)].netAddress}',
  '{..nope}',
  '{..hostName}',
  '{.status.nothing.x}',
  '{.spec.cidr[5].netAddress}',
];

describe('jsonpath with --allow-missing-template-keys=false, as kubectl', () => {
  it('every template (kubectl is on PATH)', async (ctx) => {
    if (!kubectl) ctx.skip(); // reason: kubectl is not installed on this machine
    const mismatches: string[] = [];
    for (const t of STRICT) {
      const want = await viaKubectl(t, 'jsonpath', true);
      const got = viaUs(t, false, true);
      if (want.ok !== got.ok || (want.ok && want.out !== got.out)) mismatches.push(`${JSON.stringify(t)}: kubectl ${want.ok ? JSON.stringify(want.out) : 'fails'}, ours ${got.ok ? JSON.stringify(got.out) : `fails (${got.error})`}`);
    }
    expect(mismatches).toEqual([]);
    expect(viaUs('{.spec.missing.deeper}', false, true).error).toBe('missing is not found');
  }, 60_000);
});

describe('jsonpath: exact output and errors', () => {
  const out = (t: string, data: unknown = FIXTURE): string => JsonPath.parse(t).execute(data);
  it('prints results space-separated, maps as sorted compact JSON with HTML escapes', () => {
    expect(out('{.spec.cidr[*].netAddress}')).toBe('10.0.0.0/24 10.0.1.0/24');
    expect(out('{.metadata.annotations}')).toBe('{"note":"a\\u003cb\\u0026c \\"q\\""}');
    expect(out('{range .spec.cidr[*]}{.interfaceIndex}{"\\n"}{end}')).toBe('0\n1\n');
    expect(out('{.spec.cidr[?(@.interfaceIndex==1)].hosts[0].hostName}')).toBe('host1');
  });
  it('takes map values in key order for * (kubectl: Go map order, unspecified)', () => {
    expect(out('{.spec.config.*}')).toBe('[] 8 2 multi-nic-sample 192.168.0.0/16');
  });
  it('prints numbers as Go does: integers whole, floats shortest with Go exponents', () => {
    expect(goFloat(1234567.5)).toBe('1.2345675e+06');
    expect(goFloat(0.00001)).toBe('1e-05');
    expect(goFloat(0.0001)).toBe('0.0001');
    expect(goFloat(123456.5)).toBe('123456.5');
    expect(goFloat(1e21)).toBe('1e+21');
    expect(goFloat(100000000.5)).toBe('1.000000005e+08');
    expect(goFloat(-2.5e-7)).toBe('-2.5e-07');
    expect(out('{.a}', { a: 3 })).toBe('3');
  });
  it('rejects malformed templates with the reason, before looking at data', () => {
    expect(() => JsonPath.parse('{.a')).toThrow(/unclosed action/);
    expect(() => JsonPath.parse('{.a[0}')).toThrow(/unterminated array/);
    expect(() => JsonPath.parse('{.a[x]}')).toThrow(/invalid array index x/);
    expect(() => JsonPath.parse('{.a[?(@.b==1]}')).toThrow(/unterminated filter/);
    expect(() => JsonPath.parse('{"a}')).toThrow(/unterminated quoted string/);
    expect(() => JsonPath.parse('{.a * 1}')).toThrow(/unrecognized character in action: U\+002A '\*'/);
    expect(() => JsonPath.parse('{.a}')).not.toThrow();
  });
  it('fails at execution where the data does not fit the template', () => {
    const err = (t: string): string => {
      try {
        out(t);
      } catch (e) {
        return `${(e as JsonPathError).phase}: ${(e as Error).message}`;
      }
      return 'no error';
    };
    expect(err('{.spec.cidr[7]}')).toBe('execute: array index out of bounds: index 7, length 2');
    expect(err('{.spec.config[0]}')).toBe('execute: map[string]interface {} is not array or slice');
    expect(err('{end}')).toBe('execute: not in range, nothing to end');
    expect(err('{bogus}')).toBe('execute: unrecognized identifier bogus');
    expect(err('{.spec.cidr[?(@.interfaceIndex=="1")]}')).toBe('execute: incompatible types for comparison');
  });
});
