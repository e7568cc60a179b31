import { describe, expect, it } from 'vitest';
import { DIAGNOSES, evaluateTest, retryable } from '../../../src/lib/check/evaluate.js';
import { parseIperf3Client } from '../../../src/lib/check/iperf3.js';
import { networkFromCidr, planCheck } from '../../../src/lib/check/plan.js';
import type { CheckTest, TestObservation } from '../../../src/lib/check/types.js';
import { CLIENT_ADDR, SERVER_ADDR, fixture, fixtureJson } from './fixtures.js';
import { OPTS, sampleCidr } from './sample.js';

// The fixture addresses live in 192.168.64.0/18; make them the blocks of host-a (client) and host-b (server) on nic0.
function test(over: Partial<CheckTest> = {}): CheckTest {
  const cidr = sampleCidr();
  const e0 = cidr.spec.cidr.find((e) => e.interfaceIndex === 0)!;
  e0.hosts[0]!.podCIDR = '192.168.64.0/26';
  e0.hosts[1]!.podCIDR = '192.168.64.64/26';
  const t = planCheck([networkFromCidr('fabric', cidr, [])], OPTS).tests.find((x) => x.id === 'fabric/host-a->host-b/nic0')!;
  return { ...t, ...over };
}

const pod = (name: string, address?: string, log?: string) => ({ name, phase: 'Running', started: true, address, interface: 'net1-0', log });
const ok = (clientLog: string, serverLog = fixture('server-text-success.log')): TestObservation => ({
  server: pod('mnchk-x-0-s', SERVER_ADDR, serverLog),
  client: { ...pod('mnchk-x-0-c', CLIENT_ADDR, clientLog), phase: 'Succeeded' },
  attempts: 1,
});
const judge = (obs: TestObservation, t = test()) => evaluateTest(t, obs, { tolerance: 0.2, namespace: 'default' });

describe('evaluateTest', () => {
  it('passes a real successful run, reporting receiver Gbit/s and retransmits', () => {
    const r = judge(ok(fixture('client-success.json')));
    const raw = fixtureJson('client-success.json');
    expect(r.status).toBe('pass');
    expect(r.cause).toBeUndefined();
    expect(r.connected).toBe(true);
    expect(r.gbps).toBeCloseTo(raw.end.sum_received.bits_per_second / 1e9, 2);
    expect(r.retransmits).toBe(raw.end.sum_sent.retransmits);
    expect(r.summary).toMatch(/^\d+\.\d\d Gbit\/s/);
    expect(r.client).toEqual({ host: 'host-a', interface: 'eth1', pod: 'mnchk-x-0-c', address: CLIENT_ADDR });
    expect(r.server.port).toBe(5201);
  });

  it('fails below the expectation minus tolerance, passes within it', () => {
    const got = fixtureJson('client-success.json').end.sum_received.bits_per_second / 1e9;
    const slow = judge(ok(fixture('client-success.json')), test({ expectedGbps: got * 2, expectation: 'flag' }));
    expect(slow).toMatchObject({ status: 'fail', cause: 'slow' });
    expect(slow.summary).toContain('host-a -> host-b on nic0 (eth1 -> eth1, 10.0.1.0/24)');
    expect(slow.summary).toContain('from --expect-gbps');
    expect(slow.hint).toContain('--parallel 4');
    expect(judge(ok(fixture('client-success.json')), test({ expectedGbps: got * 1.2, expectation: 'link-speed' })).status).toBe('pass');
  });

  it('a missing route names the pair, the NIC and the exact routes to look for', () => {
    const r = judge(ok(fixture('client-no-route.json')));
    expect(r).toMatchObject({ status: 'fail', cause: 'no-route', connected: false });
    expect(r.summary).toContain('host-a -> host-b on nic0');
    expect(r.summary).toContain('Network is unreachable');
    expect(r.hint).toContain('on host host-a, `ip route show table fabric` (the table of `ip rule` "from 192.168.0.0/16") should hold `192.168.64.64/26 via 10.0.1.2 dev eth1`');
    expect(r.hint).toContain('on host host-b (the way back) `192.168.64.0/26 via 10.0.1.1 dev eth1`');
    expect(judge(ok(fixture('client-timeout.json'))).cause).toBe('no-route');
  });

  it.each([
    ['client-refused.json', 'refused', /connection refused .* after 1 attempt/],
    ['client-busy.json', 'busy', /server busy after 1 attempt/],
    ['client-bind-failure.json', 'no-address', /cannot bind net1-0/],
    ['client-bind-dev-missing.json', 'no-address', /No such device/],
  ])('%s -> %s', (file, cause, summary) => {
    const r = judge(ok(fixture(file)));
    expect(r.status).toBe('fail');
    expect(r.cause).toBe(cause);
    expect(r.summary).toMatch(summary);
    expect(r.hint).toBeTruthy();
  });

  it('a server that could not listen is blamed before the client refusal it causes', () => {
    const r = judge(ok(fixture('client-refused.json'), fixture('server-text-bind-failure.log')));
    expect(r.cause).toBe('server-failed');
    expect(r.summary).toContain('unable to start listener');
  });

  it('an old iperf3 without --bind-dev', () => {
    expect(judge(ok("iperf3: unrecognized option '--bind-dev'\n")).cause).toBe('iperf3-unsupported');
  });

  it('wrong interface: iperf3 used another source address than the pod NIC', () => {
    const obs = ok(fixture('client-success.json'));
    obs.client!.address = '192.168.64.3';
    const r = judge(obs);
    expect(r.cause).toBe('wrong-interface');
    expect(r.summary).toContain(`iperf3 sent from ${CLIENT_ADDR}, not from the pod's address 192.168.64.3`);
  });

  it('wrong interface: the server saw another source (NAT or another path)', () => {
    const obs = ok(fixture('client-success.json'), fixture('server-text-success.log').replace(`from ${CLIENT_ADDR},`, 'from 10.0.1.1,'));
    const r = judge(obs);
    expect(r.cause).toBe('wrong-interface');
    expect(r.summary).toContain('the server saw the connection from 10.0.1.1');
    expect(r.hint).toContain('MASQUERADE');
  });

  it('wrong interface: a pod address outside its host block on that NIC', () => {
    const obs = ok(fixture('client-success.json'));
    obs.server!.address = '192.168.0.9';
    const r = judge(obs);
    expect(r.cause).toBe('wrong-interface');
    expect(r.summary).toContain("outside host-b's block 192.168.64.64/26 on eth1");
  });

  it("macvlan L3: a pod holding its host's shim gateway address is named as the cause of a failed connection", () => {
    const obs = ok(fixture('client-timeout.json'));
    obs.server!.address = '192.168.64.65'; // first usable of host-b's block 192.168.64.64/26
    const r = judge(obs);
    expect(r.cause).toBe('gateway-address');
    expect(r.summary).toBe("pod mnchk-x-0-s on host-b got 192.168.64.65, the address of host-b's L3 gateway (the macvlan shim) on eth1: its traffic ends at the host");
    expect(r.hint).toContain('excludes 192.168.64.65');
    // Not in shim mode (e.g. ipvlan L3), the first address is an ordinary pod address.
    expect(judge(obs, test({ shimGateway: false })).cause).toBe('no-route');
    // A test that passed is not blamed on it.
    const passed = ok(fixture('client-success.json'));
    passed.server!.address = '192.168.64.65';
    expect(judge(passed).cause).not.toBe('gateway-address');
  });

  it('pods that never started, or started without an address', () => {
    const notStarted: TestObservation = { server: { name: 's', phase: 'Pending', started: false, message: 'failed to allocate: pool exhausted' }, attempts: 0 };
    const r = judge(notStarted);
    expect(r.cause).toBe('pod-failed');
    expect(r.summary).toBe('server pod s on host-b did not start: failed to allocate: pool exhausted');
    expect(r.hint).toContain('kubectl -n default describe pod s');
    const noAddr: TestObservation = { server: pod('s'), attempts: 0 };
    expect(judge(noAddr)).toMatchObject({ cause: 'no-address', status: 'fail' });
    expect(judge(noAddr).summary).toContain('pod s on host-b has no address on network fabric (masters: eth1)');
  });

  it('a host without a NIC on the NIC network fails without pods', () => {
    const r = judge({ attempts: 0 }, test({ serverNic: undefined }));
    expect(r).toMatchObject({ status: 'fail', cause: 'not-in-cidr' });
    expect(r.summary).toBe('host-b has no NIC on 10.0.1.0/24 (nic0) of network fabric');
  });

  it('a client that did not finish, and an interrupted run', () => {
    const obs = ok('');
    obs.client!.log = undefined;
    expect(judge({ ...obs, clientTimedOut: true }).cause).toBe('timeout');
    expect(judge({ ...obs, aborted: true })).toMatchObject({ status: 'skip', summary: 'not run: the check was interrupted' });
  });

  it('every diagnosis has a distinct title', () => {
    expect(new Set(DIAGNOSES.map((d) => d.title)).size).toBe(DIAGNOSES.length);
  });
});

describe('retryable', () => {
  it('retries busy and refused answers only', () => {
    expect(retryable(parseIperf3Client(fixture('client-busy.json')))).toBe(true);
    expect(retryable(parseIperf3Client(fixture('client-refused.json')))).toBe(true);
    expect(retryable(parseIperf3Client(fixture('client-no-route.json')))).toBe(false);
    expect(retryable(parseIperf3Client(fixture('client-success.json')))).toBe(false);
  });
});
