import { describe, expect, it } from 'vitest';
import { INTERRUPTED_EXIT, onInterrupt } from '../../src/check/interrupt.js';
import { Progress } from '../../src/check/progress.js';
import type { CheckEvent } from '../../src/check/run.js';
import { networkFromCidr, planCheck } from '../../src/lib/check/plan.js';
import { sampleReport } from '../lib/check/sample-report.js';
import { OPTS, sampleCidr } from '../lib/check/sample.js';

const plan = planCheck([networkFromCidr('fabric', sampleCidr(['host-a', 'host-b']), [])], OPTS);
const report = sampleReport();
const events = (): CheckEvent[] => {
  const g = plan.groups[0]!;
  return [
    { type: 'start', runId: 'r1', tests: 2, groups: 1 },
    { type: 'group', group: g },
    { type: 'servers-ready', group: g, ready: 2 },
    { type: 'result', result: report.tests[0]!, done: 1, total: 2 },
    { type: 'result', result: report.tests[1]!, done: 2, total: 2 },
    { type: 'group-done', group: g },
    { type: 'cleanup', pods: 4 },
    { type: 'cleanup-done', leftovers: [] },
  ];
};

function capture(isTTY: boolean): string {
  let text = '';
  const p = new Progress({ isTTY, write: (s: string) => (text += s) });
  for (const e of events()) p.onEvent(e);
  p.finish();
  return text;
}

describe('Progress', () => {
  it('not a TTY: plain lines only, no escapes', () => {
    const text = capture(false);
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\r');
    expect(text.split('\n').filter(Boolean)).toEqual([
      'check r1: 2 tests over 1 host pair',
      'starting fabric/host-a->host-b: 2 NICs',
      'fabric/host-a->host-b: 2/2 servers ready, clients sending',
      `[1/2] PASS ${report.tests[0]!.id}: ${report.tests[0]!.summary}`,
      `[2/2] FAIL ${report.tests[1]!.id}: ${report.tests[1]!.summary}`,
      'deleting 4 check pods',
    ]);
  });

  it('a TTY: the same results plus a status line redrawn in place and cleared at the end', () => {
    const text = capture(true);
    expect(text).toContain('\r\u001b[K  0/2 done; running fabric/host-a->host-b');
    expect(text).toContain(`[2/2] FAIL ${report.tests[1]!.id}`);
    expect(text.endsWith('\r\u001b[K')).toBe(true);
  });
});

describe('onInterrupt', () => {
  function fakeProcess() {
    const handlers = new Map<string, () => void>();
    const exits: number[] = [];
    return {
      handlers,
      exits,
      on: (ev: 'SIGINT' | 'SIGTERM', fn: () => void) => handlers.set(ev, fn),
      off: (ev: 'SIGINT' | 'SIGTERM') => handlers.delete(ev),
      exit: ((code: number) => {
        exits.push(code);
      }) as (code: number) => never,
    };
  }

  it('first Ctrl-C aborts (cleanup follows), the second quits 130 naming the label to delete by', () => {
    const proc = fakeProcess();
    const ctl = new AbortController();
    const notes: string[] = [];
    const off = onInterrupt(ctl, (t) => notes.push(t), () => 'r1', proc);
    proc.handlers.get('SIGINT')!();
    expect(ctl.signal.aborted).toBe(true);
    expect(proc.exits).toEqual([]);
    proc.handlers.get('SIGTERM')!();
    expect(proc.exits).toEqual([INTERRUPTED_EXIT]);
    expect(notes[1]).toBe('quit without cleanup; delete the pods with: kubectl delete pods -A -l multinic.fms.io/check-run=r1');
    off();
    expect(proc.handlers.size).toBe(0);
  });
});
