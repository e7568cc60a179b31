// The TUI's hooks: cluster data from watches, a check run, key input, terminal size. They turn the
// outside world into reducer actions (src/lib/ui/state.ts) and act on the state's requests.
import { useInput, useStdout } from 'ink';
import { type Dispatch, useEffect, useRef } from 'react';
import { Informer } from '../agent/kube/informer.js';
import { gatherNetworks } from '../check/gather.js';
import { runCheck } from '../check/run.js';
import { gatherSnapshot, isAgentDaemonSet } from '../cluster/snapshot.js';
import type { KubeApi } from '../kube/api.js';
import { planCheck, validateCheckOptions } from '../lib/check/plan.js';
import { buildReport } from '../lib/check/report.js';
import type { CheckOptions } from '../lib/check/types.js';
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from '../lib/crds/types.gen.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { R } from '../lib/k8s/resources.js';
import { type Action, type CheckState, type Key, splitTyped } from '../lib/ui/state.js';

/** Coalesces bursts of watch events (an apply touches many objects) into one update. */
const SETTLE_MS = 100;

/**
 * Feeds the reducer the objects `status` reads (src/cluster/snapshot.ts), kept current by one
 * list+watch informer per resource: updates arrive as the API server sends them, and an idle
 * cluster costs nothing (no polling). `refreshToken` > 0 re-reads everything through status's own
 * gatherer.
 */
export function useClusterData(kube: KubeApi | undefined, dispatch: Dispatch<Action>, refreshToken: number): void {
  useEffect(() => {
    if (!kube) return;
    const networks = new Informer<MultiNicNetwork & KubeObject>({ api: kube, ref: R.MultiNicNetwork, log: onLog });
    const cidrs = new Informer<CIDR & KubeObject>({ api: kube, ref: R.CIDR, log: onLog });
    const ippools = new Informer<IPPool & KubeObject>({ api: kube, ref: R.IPPool, log: onLog });
    const his = new Informer<HostInterface & KubeObject>({ api: kube, ref: R.HostInterface, log: onLog });
    const nodes = new Informer({ api: kube, ref: R.Node, log: onLog });
    const daemonSets = new Informer({ api: kube, ref: R.DaemonSet, log: onLog });
    const pods = new Informer({ api: kube, ref: R.Pod, log: onLog });
    const all = [networks, cidrs, ippools, his, nodes, daemonSets, pods] as Array<Informer<KubeObject>>;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    function onLog(e: Record<string, unknown>): void {
      if (e.level !== 'info' && !stopped) dispatch({ type: 'error', message: `${String(e.resource)}: ${String(e.error ?? e.msg)}` });
    }
    const publish = (): void => {
      if (stopped || !all.every((i) => i.isSynced)) return;
      dispatch({
        type: 'data',
        at: Date.now(),
        data: {
          snapshot: { networks: networks.list(), cidrs: cidrs.list(), ippools: ippools.list(), hostInterfaces: his.list(), nodes: nodes.list(), daemonSets: daemonSets.list().filter(isAgentDaemonSet) },
          pods: pods.list(),
        },
      });
    };
    const schedule = (): void => {
      timer ??= setTimeout(() => {
        timer = undefined;
        publish();
      }, SETTLE_MS);
    };
    for (const i of all) {
      i.onChange(schedule);
      i.start();
    }
    return () => {
      stopped = true;
      clearTimeout(timer);
      for (const i of all) void i.stop();
    };
  }, [kube, dispatch]);

  useEffect(() => {
    if (!kube || refreshToken === 0) return;
    let live = true;
    Promise.all([gatherSnapshot(kube), kube.list(R.Pod)])
      .then(([snapshot, pods]) => live && dispatch({ type: 'data', at: Date.now(), data: { snapshot, pods: pods.items } }))
      .catch((e: Error) => live && dispatch({ type: 'error', message: e.message }));
    return () => {
      live = false;
    };
  }, [kube, dispatch, refreshToken]);
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
