// A CheckReport built from real iperf3 fixtures: host-a/host-b, 2 NICs each way, where
// host-a -> host-b nic1 had no route.
import { evaluateTest } from '../../../src/lib/check/evaluate.js';
import { networkFromCidr, planCheck } from '../../../src/lib/check/plan.js';
import { buildReport } from '../../../src/lib/check/report.js';
import type { CheckReport, TestObservation } from '../../../src/lib/check/types.js';
import { CLIENT_ADDR, SERVER_ADDR, fixture } from './fixtures.js';
import { OPTS, sampleCidr, sampleHostInterfaces } from './sample.js';

/** A run over host-a/host-b (2 NICs each way) where host-a -> host-b nic1 had no route. */
export function sampleReport(opts: { interruptAfter?: number } = {}): CheckReport {
  const plan = planCheck([networkFromCidr('fabric', sampleCidr(), sampleHostInterfaces())], { ...OPTS, nodes: ['host-a', 'host-b'], expectGbps: 1 });
  const results = plan.tests.map((t, i) => {
    // The real fixture, moved to this test's addresses (first addresses of the two host blocks).
    const clientAddr = t.clientNic!.podCIDR!.replace(/0\/24$/, '2');
    const serverAddr = t.serverNic!.podCIDR!.replace(/0\/24$/, '2');
    const raw = t.id === 'fabric/host-a->host-b/nic1' ? fixture('client-no-route.json') : fixture('client-success.json');
    const log = raw.replaceAll(CLIENT_ADDR, clientAddr).replaceAll(SERVER_ADDR, serverAddr);
    const obs: TestObservation = {
      server: { name: `s${i}`, started: true, phase: 'Running', log: '', address: serverAddr },
      client: { name: `c${i}`, started: true, phase: 'Succeeded', log, address: clientAddr },
      attempts: 1,
    };
    if (opts.interruptAfter !== undefined && i >= opts.interruptAfter) return evaluateTest(t, { attempts: 0, aborted: true }, { tolerance: 0.2, namespace: 'default' });
    return evaluateTest(t, obs, { tolerance: 0.2, namespace: 'default' });
  });
  return buildReport(plan, results.reverse(), { ...OPTS, nodes: ['host-b', 'host-a'], expectGbps: 1 }, {
    runId: 'abc12',
    startedAt: new Date('2026-11-23T08:00:00.123Z'),
    finishedAt: new Date('2026-11-23T08:00:42.5Z'),
    interrupted: opts.interruptAfter !== undefined,
  });
}

