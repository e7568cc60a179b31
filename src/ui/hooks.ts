// The TUI's hooks: cluster data from the feed (src/ui/feed.ts), a check run, key input, terminal size. They turn the
// outside world into reducer actions (src/lib/ui/state.ts) and act on the state's requests.
import { useInput, useStdout } from 'ink';
import { type Dispatch, useEffect, useRef } from 'react';
import { gatherNetworks } from '../check/gather.js';
import { runCheck } from '../check/run.js';
import { gatherDoctorSnapshot } from '../cluster/snapshot.js';
import type { KubeApi } from '../kube/api.js';
import { planCheck, validateCheckOptions } from '../lib/check/plan.js';
import { buildReport } from '../lib/check/report.js';
import type { CheckOptions } from '../lib/check/types.js';
import { runDoctor } from '../lib/doctor/report.js';
import { type Action, type CheckState, type DoctorState, type Key, splitTyped } from '../lib/ui/state.js';
import type { ClusterFeed } from './feed.js';

/** Feeds the reducer from the cluster feed; `refreshToken` > 0 re-reads everything. */
export function useClusterData(feed: ClusterFeed | undefined, dispatch: Dispatch<Action>, refreshToken: number): void {
  useEffect(() => {
    if (!feed) return;
    return feed.subscribe({ data: (data, at) => dispatch({ type: 'data', data, at }), error: (message) => dispatch({ type: 'error', message }) });
  }, [feed, dispatch]);
  useEffect(() => {
    if (feed && refreshToken > 0) void feed.refresh();
  }, [feed, refreshToken]);
}

export interface CheckDefaults {
  namespace: string;
  image: string;
  duration: number;
}

/**
 * Runs `check`'s runner (src/check/run.ts) when the state asks (runToken) and aborts it on
 * cancelToken; the runner deletes its pods on abort. Progress becomes `check` actions.
 */
export function useCheckRun(kube: KubeApi | undefined, check: CheckState, dispatch: Dispatch<Action>, defaults: CheckDefaults): void {
  const ctl = useRef<AbortController | undefined>(undefined);
  const { runToken, cancelToken, network, pairs } = check;
  useEffect(() => {
    if (!kube || runToken === 0 || !network) return;
    const abort = new AbortController();
    ctl.current = abort;
    const run = async (): Promise<void> => {
      const opts: CheckOptions = validateCheckOptions({
        networks: [network], nodes: [], pairs, duration: defaults.duration, parallel: 1, concurrency: 2, tolerance: 0.2,
        image: defaults.image, portBase: 5201, namespace: defaults.namespace, keepPods: false,
      });
      const plan = planCheck(await gatherNetworks(kube, opts.networks), opts);
      const outcome = await runCheck(kube, plan, opts, {
        signal: abort.signal,
        onEvent: (e) => {
          if (e.type === 'start') dispatch({ type: 'check', event: { kind: 'start', runId: e.runId, tests: e.tests } });
          else if (e.type === 'result') dispatch({ type: 'check', event: { kind: 'result', done: e.done, total: e.total, result: { id: e.result.id, status: e.result.status, summary: e.result.summary } } });
          else if (e.type === 'cleanup') dispatch({ type: 'check', event: { kind: 'cleanup', pods: e.pods } });
        },
      });
      const report = buildReport(plan, outcome.results, opts, { runId: outcome.runId, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt, interrupted: outcome.interrupted });
      dispatch({ type: 'check', event: { kind: 'finished', report, leftovers: outcome.leftovers } });
    };
    run().catch((e: Error) => dispatch({ type: 'check', event: { kind: 'failed', message: e.message } }));
    // Deliberately no abort on re-render: the run lives until it ends or cancelToken aborts it.
  }, [kube, runToken]);

  useEffect(() => {
    if (cancelToken > 0) ctl.current?.abort();
  }, [cancelToken]);
}

/**
 * Runs the doctor when the state asks (runToken): the doctor's own gatherer (agents probe their
 * node on request) and registry, exactly what `kubectl multinic doctor` / `doctor pod` run.
 */
export function useDoctorRun(kube: KubeApi | undefined, doctor: DoctorState, dispatch: Dispatch<Action>, cliVersion: string): void {
  const { runToken, pod } = doctor;
  useEffect(() => {
    if (!kube || runToken === 0) return;
    const [namespace, name] = pod ? (pod.split('/') as [string, string]) : [];
    gatherDoctorSnapshot(kube, { cliVersion, probeTimeoutMs: DOCTOR_PROBE_MS, ...(namespace && name ? { target: { namespace, name } } : {}) })
      .then((snap) => dispatch({ type: 'doctor', token: runToken, event: { kind: 'finished', report: runDoctor(snap) } }))
      .catch((e: Error) => dispatch({ type: 'doctor', token: runToken, event: { kind: 'failed', message: e.message } }));
  }, [kube, runToken]);
}

/** How long the doctor view waits for the agents to answer its probe (doctor's own default). */
const DOCTOR_PROBE_MS = 5000;

/** Ink's key events → reducer keys (the only place that knows Ink's key shape). */
export function useKeys(dispatch: Dispatch<Action>): void {
  useInput((input, k) => {
    const key: Key | undefined = k.upArrow ? { name: 'up' } : k.downArrow ? { name: 'down' } : k.leftArrow ? { name: 'left' } : k.rightArrow ? { name: 'right' }
      : k.return ? { name: 'enter' } : k.escape ? { name: 'escape' } : k.tab ? { name: 'tab' } : k.backspace || k.delete ? { name: 'backspace' }
      : k.pageUp ? { name: 'pageup' } : k.pageDown ? { name: 'pagedown' } : k.home ? { name: 'home' } : k.end ? { name: 'end' }
      : undefined;
    if (key) dispatch({ type: 'key', key });
    else if (k.ctrl) dispatch({ type: 'key', key: { text: input, ctrl: true } });
    else for (const one of splitTyped(input)) dispatch({ type: 'key', key: one });
  });
}

/** Redraws on resize: the terminal's size into the state. */
export function useTerminalSize(dispatch: Dispatch<Action>, enabled = true): void {
  const { stdout } = useStdout();
  useEffect(() => {
    if (!enabled) return;
    const onResize = (): void => dispatch({ type: 'resize', columns: stdout.columns || 80, rows: stdout.rows || 24 });
    onResize();
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, dispatch, enabled]);
}
