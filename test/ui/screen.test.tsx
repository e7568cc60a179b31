// Frames of every view from fixed snapshots (ink-testing-library): the healthy lab, a failing cell,
// an empty cluster, a 64-host grid that scrolls, a narrow terminal, and key input through Ink.
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { networkFromCidr, planCheck, validateCheckOptions } from '../../src/lib/check/plan.js';
import { buildReport } from '../../src/lib/check/report.js';
import { runDoctor, summaryLine } from '../../src/lib/doctor/report.js';
import type { TestResult } from '../../src/lib/check/types.js';
import type { ClusterData } from '../../src/lib/ui/model.js';
import { type Key, type UiState, initialState, reduce } from '../../src/lib/ui/state.js';
import { App } from '../../src/ui/app.js';
import { Screen } from '../../src/ui/screen.js';
import { theme } from '../../src/ui/theme.js';
import { eventually } from '../helpers/eventually.js';
import { doctorSnapshotOf, emptyCluster, labData, withClaim, withDiagnostics, withPod } from './fixture.js';

const AT = Date.UTC(2026, 11, 2, 10, 0, 0);
const state = (data: ClusterData | undefined, size = { columns: 100, rows: 30 }, ...ks: Key[]): UiState => {
  let s = initialState(size);
  if (data) s = reduce(s, { type: 'data', data, at: AT });
  for (const k of ks) s = reduce(s, { type: 'key', key: k });
  return s;
};
const enter: Key = { name: 'enter' };
const t = (text: string): Key => ({ text });

let unmounts: Array<() => void> = [];
afterEach(() => {
  for (const u of unmounts) u();
  unmounts = [];
});

function frame(s: UiState, color = false): string[] {
  const r = render(<Screen state={s} theme={theme(color)} context="lab" server="https://127.0.0.1:6443" />);
  unmounts.push(r.unmount);
  return (r.lastFrame() ?? '').split('\n');
}

describe('screens', () => {
  it('networks list of the healthy lab, status line with context, server and update time', () => {
    const f = frame(state(labData({ hosts: 3, nics: 2 })));
    expect(f).toHaveLength(29);
    expect(f[0]).toMatch(/^ multinic ▸ networks\s*$/);
    expect(f[1]).toMatch(/^ {2}NAME\s+PLUGIN\s+READY\s+HOSTS\s+POOL USE\s+ROUTES\s+LAST PROBLEM/);
    expect(f[2]).toMatch(/^› ✓ multi-nic-sample\s+macvlan l3\s+Ready\s+3\/3\s+0\/1518\s+✓ ok\s+-/);
    expect(f[28]).toMatch(/^ lab │ https:\/\/127\.0\.0\.1:6443 │ updated 10:00:00Z/);
  });

  it('grid with a failing cell: host2 eth2 down from kernel truth', () => {
    const f = frame(state(withDiagnostics(labData({ hosts: 3, nics: 2 }), 'host2', { down: ['eth2'] }), undefined, enter));
    expect(f[0]).toMatch(/networks › multi-nic-sample/);
    expect(f[1]).toMatch(/^HOST\s+nic0 10\.0\.1\.0\/24\s+nic1 10\.0\.2\.0\/24/);
    expect(f.slice(2, 5).map((l) => l.trimEnd())).toEqual([
      '›✓ host1 ✓ 192.168.0.0/24 0/253 ok       ✓ 192.168.64.0/24 0/253 ok',
      ' ✗ host2 ✓ 192.168.1.0/24 0/253 ok       ✗ 192.168.65.0/24 0/253 down',
      ' ✓ host3 ✓ 192.168.2.0/24 0/253 ok       ✓ 192.168.66.0/24 0/253 ok',
    ]);
  });

  it('colour on: the failing cell is red, no symbols', () => {
    const f = frame(state(withDiagnostics(labData({ hosts: 3, nics: 2 }), 'host2', { down: ['eth2'] }), undefined, enter), true).join('\n');
    // ink-testing-library keeps ANSI codes only when chalk has a colour level; either way no symbols.
    expect(f).not.toContain('✗');
    expect(f).toContain('192.168.65.0/24 0/253 down');
  });

  it('host x NIC detail of the failing cell says why and lists routes and allocations', () => {
    const d = withPod(withDiagnostics(labData({ hosts: 3, nics: 2 }), 'host2', { down: ['eth2'], missing: [{ dst: '192.168.64.0/24', via: '10.0.2.1', dev: 'eth2' }] }), 'trainer-0', 'host2');
    const f = frame(state(d, undefined, enter, t('j'), t('l'), enter)).map((l) => l.trimEnd());
    expect(f[0]).toMatch(/networks › multi-nic-sample › host2 nic1/);
    expect(f.slice(1, 14)).toEqual([
      '  multi-nic-sample  host2 × eth2 (nic1, 10.0.2.0/24)  ✗ fail',
      '  block     192.168.65.0/24  pool multi-nic-sample-192.168.65.0-24',
      '  host IP   10.0.2.2   gateway (shim) 192.168.65.1',
      '  use       1/253 addresses',
      "  routes    1/2 present (kernel, read by the agent)",
      '    missing 192.168.64.0/24 via 10.0.2.1 dev eth2',
      '  ✗ eth2 on host2: link admin down, no carrier (agent saw it at 2026-12-02T10:00:05Z)',
      '  ✗ 1 route missing in table multi-nic-sample: 192.168.64.0/24 via 10.0.2.1',
      '',
      '  ALLOCATIONS (1)',
      '  192.168.65.2       default/trainer-0 net1-1',
      '',
      '',
    ]);
  });

  it('an empty cluster says what to do', () => {
    const f = frame(state(emptyCluster()));
    expect(f[2]).toBe('  no MultiNicNetworks (kubectl multinic apply -f NETWORK.yaml)'.padEnd(f[2]!.length));
    expect(frame(state(emptyCluster(), undefined, t(':'), t('n'), t('o'), enter))[2]?.trim()).toBe('no nodes');
    expect(frame(state(undefined))[2]?.trim()).toBe('loading…');
  });

  it('a 64-host x 4-NIC grid at 80x24: 19 host rows, 2 NIC columns, scrolls with the selection', () => {
    const d = labData({ hosts: 64, nics: 4 });
    const size = { columns: 80, rows: 24 };
    const top = frame(state(d, size, enter));
    expect(top).toHaveLength(23);
    expect(top[1]).toMatch(/^HOST 1-2\/4\s+nic0 10\.0\.1\.0\/24\s+nic1 10\.0\.2\.0\/24\s*$/);
    const hosts = (f: string[]) => f.slice(2, 21).map((l) => /host\d+/.exec(l)?.[0]);
    // Hosts in the status report's order (name order, as `status` prints them).
    const names = Array.from({ length: 64 }, (_, i) => `host${i + 1}`).sort((a, b) => a.localeCompare(b));
    expect(hosts(top)).toEqual(names.slice(0, 19));
    expect(top.every((l) => l.length <= 80)).toBe(true);
    const bottom = frame(state(d, size, enter, t('G'), t('l'), t('l'), t('l')));
    expect(hosts(bottom)).toEqual(names.slice(45));
    expect(bottom[1]).toMatch(/^HOST 3-4\/4\s+nic2 10\.0\.3\.0\/24\s+nic3 10\.0\.4\.0\/24\s*$/);
    expect(bottom[20]).toMatch(/192\.168\.\d+\.\d+\/25 0\/125 ok\s+\S+ 192\.168\.\d+\.\d+\/25 0\/125 ok/);
    expect(bottom[20]).toMatch(/^›✓ host9 /);
  });

  it('a narrow terminal (60x16): lines are cut, never wrapped; the status line stays at the bottom', () => {
    const f = frame(state(labData({ hosts: 3, nics: 2 }), { columns: 60, rows: 16 }, enter));
    expect(f).toHaveLength(15);
    expect(f.every((l) => l.length <= 60)).toBe(true);
    // One NIC column fits; the header says which of how many, l scrolls to the next.
    expect(f[1]).toMatch(/^HOST 1-1\/2\s+nic0 10\.0\.1\.0\/24\s*$/);
    expect(f[2]).toMatch(/^›✓ host1\s+✓ 192\.168\.0\.0\/24 0\/253 ok\s*$/);
    expect(frame(state(labData({ hosts: 3, nics: 2 }), { columns: 60, rows: 16 }, enter, t('l')))[1]).toMatch(/^HOST 2-2\/2\s+nic1 10\.0\.2\.0\/24\s*$/);
    expect(f[14]).toMatch(/^ lab │ https:/);
  });

  it('nodes: NICs with PCI ids, NUMA, speed, MTU, link and the agent', () => {
    const f = frame(state(withDiagnostics(labData({ hosts: 2, nics: 2 }), 'host2', { down: ['eth1'] }), undefined, t(':'), t('n'), t('o'), t('d'), enter)).map((l) => l.trimEnd());
    expect(f[1]).toMatch(/^ NODE\s+NIC\s+VENDOR:PROD\s+NUMA\s+SPEED\s+MTU\s+LINK\s+AGENT/);
    expect(f.slice(2, 6).map((l) => l.replace(/\s+/g, ' '))).toEqual([
      '›✓ host1 eth1 15b3:1017 0 100G 9000 ✓ up Ready agent published 0.1.0',
      'eth2 15b3:1017 1 100G 9000 ✓ up',
      ' ✗ host2 eth1 15b3:1017 0 100G 9000 ✗ admin down Ready agent published 0.1.0',
      'eth2 15b3:1017 1 100G 9000 ✓ up',
    ].map((l) => l.replace(/^eth/, ' eth')));
  });

  it('nodes: a CLAIMED BY column names the pods and claim holding a NIC (DRA), only once a claim holds one', () => {
    const keys = [t(':'), t('n'), t('o'), t('d'), enter];
    expect(frame(state(labData({ hosts: 2, nics: 2 }), { columns: 140, rows: 30 }, ...keys))[1]).not.toMatch(/CLAIMED BY/);
    const f = frame(state(withClaim(labData({ hosts: 2, nics: 2 }), 'host2', ['eth2'], 'trainer-0-nics-x7k2p', 'trainer-0'), { columns: 160, rows: 30 }, ...keys)).map((l) => l.trimEnd());
    expect(f[1]).toMatch(/^ NODE\s+NIC\s+VENDOR:PROD\s+NUMA\s+SPEED\s+MTU\s+LINK\s+CLAIMED BY\s+AGENT/);
    expect(f.slice(2, 6).map((l) => l.replace(/\s+/g, ' '))).toEqual([
      '›✓ host1 eth1 15b3:1017 0 100G 9000 ✓ up - Ready agent published 0.1.0',
      ' eth2 15b3:1017 1 100G 9000 ✓ up -',
      ' ✓ host2 eth1 15b3:1017 0 100G 9000 ✓ up - Ready agent published 0.1.0',
      ' eth2 15b3:1017 1 100G 9000 ✓ up default/trainer-0 (claim default/trainer-0-nics-x7k2p)',
    ]);
  });

  it('pods: interfaces, addresses and host NIC', () => {
    const f = frame(state(withPod(labData({ hosts: 3, nics: 2 }), 'trainer-0', 'host2'), undefined, t(':'), t('p'), t('o'), enter)).map((l) => l.replace(/\s+/g, ' ').trimEnd());
    expect(f.slice(1, 4)).toEqual([
      ' POD NODE PHASE NETWORK IFACE ADDRESS HOST/NIC',
      '›default/trainer-0 host2 Running multi-nic-sample net1-0 192.168.1.2 host2/eth1',
      ' multi-nic-sample net1-1 192.168.65.2 host2/eth2',
    ]);
  });

  it('? lists the keys of the current view', () => {
    const f = frame(state(labData({ hosts: 3, nics: 2 }), undefined, enter, t('?'))).join('\n');
    expect(f).toContain('keys: grid');
    expect(f).toMatch(/h l ← →\s+move between NICs/);
    expect(f).toMatch(/Enter\s+host x NIC detail/);
  });

  it('the command bar shows what is typed and the completions', () => {
    const f = frame(state(labData({ hosts: 3, nics: 2 }), undefined, t(':'), t('n')));
    expect(f[27]).toMatch(/^:n▌\s+net nodes/);
  });

  it('check: progress while running, then the per-NIC matrix and failures with hints', () => {
    const d = labData({ hosts: 3, nics: 2 });
    let s = state(d, undefined, t(':'), t('c'), t('h'), enter, enter);
    s = reduce(s, { type: 'check', event: { kind: 'start', runId: 'abc123', tests: 6 } });
    s = reduce(s, { type: 'check', event: { kind: 'result', done: 1, total: 6, result: { id: 'multi-nic-sample/host1->host2/nic0', status: 'pass', summary: '9.41 Gbit/s' } } });
    const running = frame(s).map((l) => l.trimEnd());
    expect(running[1]).toBe('  checking multi-nic-sample (ring) run abc123: 1/6 done   q cancels');
    expect(running[2]).toBe('  PASS multi-nic-sample/host1->host2/nic0: 9.41 Gbit/s');
    // The report from the real plan and report builder: ring over 3 hosts x 2 NICs, one failure.
    const cidr = d.snapshot.cidrs[0]!;
    const opts = validateCheckOptions({ networks: [], nodes: [], pairs: 'ring', duration: 1, parallel: 1, concurrency: 2, tolerance: 0.2, image: 'x', portBase: 5201, namespace: 'default', keepPods: false });
    const plan = planCheck([networkFromCidr('multi-nic-sample', cidr, d.snapshot.hostInterfaces)], opts);
    const results: TestResult[] = plan.tests.map((x) => {
      const bad = x.clientHost === 'host1' && x.nicIndex === 1;
      return {
        id: x.id, network: x.network, nicIndex: x.nicIndex, netAddress: x.netAddress, client: { host: x.clientHost }, server: { host: x.serverHost, port: x.port },
        status: bad ? 'fail' : 'pass', ...(bad ? { cause: 'no-route' as const, hint: 'check host1 routes' } : { gbps: 9.5 }),
        summary: bad ? 'no route to host' : '9.50 Gbit/s', evidence: [], connected: !bad, expectation: 'none', attempts: 1,
      };
    });
    const report = buildReport(plan, results, opts, { runId: 'abc123', startedAt: new Date(AT), finishedAt: new Date(AT + 12_000), interrupted: false });
    s = reduce(s, { type: 'check', event: { kind: 'finished', report, leftovers: [] } });
    const done = frame(s).map((l) => l.trimEnd());
    expect(done.slice(1, 13)).toEqual([
      '  FAIL: 6 tests, 5 passed, 1 failed in 12.0s   Enter runs again',
      '  nic0 10.0.1.0/24  Gbit/s client → server',
      '            host1   host2   host3',
      '  host1     -       9.50    -',
      '  host2     -       -       9.50',
      '  host3     9.50    -       -',
      '  nic1 10.0.2.0/24  Gbit/s client → server',
      '            host1   host2   host3',
      '  host1     -       FAIL    -',
      '  host2     -       -       9.50',
      '  host3     9.50    -       -',
      '  ✗ multi-nic-sample/host1->host2/nic1 [no-route]: no route to host',
    ]);
    expect(done[13]).toBe('    hint: check host1 routes');
  });
});

describe('doctor screens', () => {
  it('findings severity first; Enter shows the cause and the fix', () => {
    const d = withDiagnostics(labData({ hosts: 3, nics: 2 }), 'host2', { down: ['eth2'] });
    const report = runDoctor(doctorSnapshotOf(d));
    let s = state(d, undefined, t(':'), t('d'), t('o'), t('c'), enter);
    expect(frame(s)[1]).toMatch(/running the doctor: asking every agent to probe its node/);
    s = reduce(s, { type: 'doctor', token: s.doctor.runToken, event: { kind: 'finished', report } });
    const f = frame(s).map((l) => l.trimEnd());
    expect(f[0]).toMatch(/^ multinic ▸ networks › doctor$/);
    expect(f[1]).toBe(`  ${summaryLine(report)}`.slice(0, 100).trimEnd());
    expect(f[2]).toMatch(/^ {2}SEV\s+CHECK\s+WHERE\s+SEEN/);
    expect(f[3]).toMatch(/^› ✗ fail /);
    expect(f.find((l) => l.includes('node-links'))).toMatch(/^ {2}✗ fail\s+node-links\s+host2 eth2\s+NIC eth2 on host2 is down/);
    const sev = f.slice(3, 3 + report.findings.length).map((l) => /[✗!·] (fail|warn|info)/.exec(l)?.[1]);
    expect(sev).toEqual(report.findings.map((x) => x.severity));
    // Filter down to the NIC's finding, then Enter.
    const filtered = [t('/'), ...'node-links'.split('').map(t), enter].reduce((acc, k) => reduce(acc, { type: 'key', key: k }), s);
    const detail = frame(reduce(filtered, { type: 'key', key: enter })).map((l) => l.trimEnd());
    expect(detail[0]).toMatch(/› doctor › finding \d+$/);
    expect(detail.slice(1, 10)).toEqual([
      '  ✗ fail  node-links  host2 eth2',
      '',
      '  SEEN',
      '    NIC eth2 on host2 is down (operstate down); it carries multi-nic-sample',
      '  CAUSE',
      '    it was set down (ip link set down, or a network manager)',
      '  FIX',
      '    ip link set eth2 up on host2',
      '',
    ]);
  });
});

describe('the app under Ink input', () => {
  it('keys typed on stdin move, drill in and go back; q exits', async () => {
    const r = render(<App initial={state(labData({ hosts: 3, nics: 2 }))} theme={theme(false)} context="lab" server="https://x" trackSize={false} />);
    unmounts.push(r.unmount);
    const has = (re: RegExp) => eventually(() => expect(r.lastFrame()).toMatch(re), 5000, 20);
    await has(/› ✓ multi-nic-sample/);
    r.stdin.write('\r');
    await has(/HOST\s+nic0/);
    r.stdin.write('j');
    await has(/›✓ host2/);
    r.stdin.write('l');
    r.stdin.write('\r');
    await has(/host2 × eth2 \(nic1/);
    // One chunk, as a paste or tmux send-keys delivers it.
    r.stdin.write(':net\r');
    await has(/^ multinic ▸ networks\s*$/m);
  });
});
