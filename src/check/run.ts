// Runs a check plan against the cluster: per host-pair group, iperf3 server pods on the server host
// (one per NIC, each pinned by `masters`), then all client pods at once so the pair's aggregate is
// measured simultaneously; logs read back and judged by src/lib/check. Every pod this run created
// is deleted when it ends — success, failure, an API error or an abort (Ctrl-C) — unless keepPods.
// With --via claim each pod gets its NIC through a ResourceClaim made from a per-test template
// (deleted with the pods; the claims go with their pods) and its address is read from the
// claim's status.devices, which the agent writes after the ADD.
import { randomBytes } from 'node:crypto';
import { evaluateTest, retryable } from '../lib/check/evaluate.js';
import { parseIperf3Client, parseIperf3Server } from '../lib/check/iperf3.js';
import { nextRunnable } from '../lib/check/plan.js';
import { POD_NIC, type Pod, type PodParams, RUN_LABEL, claimNetworkAddress, clientPod, hasNetworkStatus, nicClaimTemplate, podClaimName, podNetworkAddress, podProblem, serverPod } from '../lib/check/pods.js';
import type { ResourceClaim } from '../lib/dra/types.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import type { CheckGroup, CheckOptions, CheckPlan, CheckTest, PodObservation, TestObservation, TestResult } from '../lib/check/types.js';
import { UserError } from '../lib/errors.js';
import { R } from '../lib/k8s/resources.js';
import { type KubeApi, isNotFound } from '../kube/api.js';

export type CheckEvent =
  | { type: 'start'; runId: string; tests: number; groups: number }
  | { type: 'group'; group: CheckGroup }
  | { type: 'servers-ready'; group: CheckGroup; ready: number }
  | { type: 'retry'; test: CheckTest; attempt: number; reason: string }
  | { type: 'result'; result: TestResult; done: number; total: number }
  | { type: 'group-done'; group: CheckGroup }
  | { type: 'cleanup'; pods: number }
  | { type: 'cleanup-done'; leftovers: string[] };

export interface RunTimings {
  /** Poll interval for pod state (ms). */
  pollMs: number;
  /** How long a pod may take to be Running with its network-status (ms). */
  podStartMs: number;
  /** How long after Running a server may take to print "Server listening" (ms). */
  serverListenMs: number;
  /** Added to --duration for a client to finish (ms). */
  clientSlackMs: number;
  /** Client attempts on busy/refused answers. */
  maxAttempts: number;
  /** Backoff before attempt n is n * retryDelayMs. */
  retryDelayMs: number;
  /** How long to wait for deleted pods to be gone (ms). */
  cleanupWaitMs: number;
}

export const DEFAULT_TIMINGS: RunTimings = {
  pollMs: 500,
  podStartMs: 120_000,
  serverListenMs: 15_000,
  clientSlackMs: 60_000,
  maxAttempts: 3,
  retryDelayMs: 1000,
  cleanupWaitMs: 30_000,
};

export interface RunOptions {
  signal?: AbortSignal;
  onEvent?: (e: CheckEvent) => void;
  timings?: Partial<RunTimings>;
  /** Fixed run id (tests); default random. */
  runId?: string;
}

export interface RunOutcome {
  runId: string;
  results: TestResult[];
  interrupted: boolean;
  /** Pods still present after cleanup (kept with --keep-pods, or not deletable). */
  leftovers: string[];
  startedAt: Date;
  finishedAt: Date;
}

class Aborted extends Error {
  constructor() {
    super('check interrupted');
    this.name = 'Aborted';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const newRunId = (): string => randomBytes(4).toString('hex').slice(0, 6).replace(/^[0-9]/, 'r');

/**
 * One run's shared state and its steps: the pods it created, the results so far, the controller
 * an outer abort or a fatal API error in one group trips to stop them all. Used once by runCheck.
 */
class CheckRun {
  readonly created = new Set<string>();
  /** --via claim: the ResourceClaimTemplates this run created. */
  readonly templates = new Set<string>();
  readonly results = new Map<string, TestResult>();
  /** An abort from outside, or a fatal API error in one group, stops them all. */
  readonly ctl = new AbortController();
  /** The first error that was not an abort; runCheck throws it after the sweep. */
  fatal: unknown;
  private readonly numberOf: Map<string, number>;
  private readonly params: PodParams;

  constructor(
    private readonly api: KubeApi,
    private readonly plan: CheckPlan,
    private readonly opts: CheckOptions,
    private readonly t: RunTimings,
    readonly runId: string,
    private readonly emit: (e: CheckEvent) => void,
  ) {
    this.numberOf = new Map(plan.tests.map((x, i) => [x.id, i]));
    this.params = { runId, namespace: opts.namespace, image: opts.image, duration: opts.duration, parallel: opts.parallel, via: opts.via ?? 'annotation' };
  }

  private get signal(): AbortSignal {
    return this.ctl.signal;
  }

  record(r: TestResult): void {
    this.results.set(r.id, r);
    this.emit({ type: 'result', result: r, done: this.results.size, total: this.plan.tests.length });
  }

  private async create(pod: Pod): Promise<void> {
    if (this.signal.aborted) throw new Aborted();
    try {
      await this.api.create(R.Pod, pod);
    } catch (e) {
      if (isNotFound(e)) {
        throw new UserError(`namespace "${this.opts.namespace}" not found`, { hint: 'pass -n with a namespace that has the network (spec.namespaces of the MultiNicNetwork)' });
      }
      throw e;
    }
    this.created.add(pod.metadata?.name ?? '');
  }

  /** --via claim: the template a test side's pods claim their NIC from. */
  private async createTemplate(t: KubeObject): Promise<void> {
    if (this.signal.aborted) throw new Aborted();
    try {
      await this.api.create(R.ResourceClaimTemplate, t);
    } catch (e) {
      if (isNotFound(e)) {
        throw new UserError(`cannot create ResourceClaimTemplate ${this.opts.namespace}/${t.metadata?.name}: namespace "${this.opts.namespace}" not found or resource.k8s.io/v1 not served by ${this.api.server}`, {
          hint: '--via claim needs DRA (Kubernetes 1.34+, kubectl multinic install --dra, docs/dra.md) and -n with a namespace that has the network; else use --via annotation',
        });
      }
      throw e;
    }
    this.templates.add(t.metadata?.name ?? '');
  }

  private async removeTemplate(name: string): Promise<void> {
    try {
      await this.api.delete(R.ResourceClaimTemplate, name, this.opts.namespace);
      this.templates.delete(name);
    } catch {
      /* the final sweep retries */
    }
  }

  /** --via claim: the pod's address from its claim's status.devices, and the claim it was read from. */
  private async claimAddress(pod: Pod): Promise<{ address?: string; interface?: string; claim?: string }> {
    const name = podClaimName(pod);
    if (!name) return {};
    const claim = await this.api.get<ResourceClaim & KubeObject>(R.ResourceClaim, name, this.opts.namespace);
    return { ...claimNetworkAddress(claim), claim: `${this.opts.namespace}/${name}` };
  }

  private async remove(name: string): Promise<void> {
    try {
      await this.api.delete(R.Pod, name, this.opts.namespace);
    } catch {
      /* the final sweep retries and reports what is left */
    }
  }

  private async readLog(name: string): Promise<string | undefined> {
    try {
      return await this.api.podLog(this.opts.namespace, name);
    } catch {
      // Gone, or a log not (yet) available: not a result; the caller decides from what it has.
      return undefined;
    }
  }

  /** Waits until the pod runs (or ran) with its network-status, failed, or the deadline passed. */
  private async waitStarted(name: string, network: string): Promise<PodObservation> {
    const { t, opts } = this;
    const deadline = Date.now() + t.podStartMs;
    let runningSince: number | undefined;
    for (;;) {
      const pod = await this.api.get<Pod>(R.Pod, name, opts.namespace);
      if (!pod) return { name, started: false, message: 'the pod disappeared' };
      const phase = pod.status?.phase;
      const byClaim = this.params.via === 'claim' ? await this.claimAddress(pod) : undefined;
      // The ADD is done once Multus wrote network-status, or (--via claim) the agent wrote the claim's device status.
      const attached = byClaim ? !!byClaim.address : hasNetworkStatus(pod);
      const running = phase === 'Running' || phase === 'Succeeded' || (phase === 'Failed' && attached);
      if (running && (attached || (runningSince !== undefined && Date.now() - runningSince > 10_000))) {
        const a = byClaim ?? podNetworkAddress(pod, opts.namespace, network);
        return { name, phase, started: true, address: a?.address, interface: a?.interface, ...(byClaim?.claim ? { claim: byClaim.claim } : {}) };
      }
      if (running) runningSince ??= Date.now();
      if (phase === 'Failed') return { name, phase, started: false, message: podProblem(pod) ?? 'the pod failed' };
      if (Date.now() > deadline) {
        return { name, phase, started: false, message: `not running after ${Math.round(t.podStartMs / 1000)}s (phase ${phase ?? 'unknown'}${podProblem(pod) ? `: ${podProblem(pod)}` : ''})` };
      }
      await sleep(t.pollMs, this.signal);
    }
  }

  /**
   * Waits for "Server listening" in the server log (bounded; a silent server still gets a client).
   * Resolves false when the server cannot serve (it printed an error or exited): no client is sent.
   */
  private async waitListening(obs: PodObservation): Promise<boolean> {
    const deadline = Date.now() + this.t.serverListenMs;
    while (Date.now() < deadline) {
      const log = (await this.readLog(obs.name)) ?? '';
      const s = parseIperf3Server(log);
      if (s.listening) return true;
      const pod = await this.api.get<Pod>(R.Pod, obs.name, this.opts.namespace);
      if (s.error || !pod || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
        obs.log = (await this.readLog(obs.name)) ?? log;
        return false;
      }
      await sleep(this.t.pollMs, this.signal);
    }
    return true;
  }

  private async waitFinished(name: string, deadlineMs: number): Promise<string | undefined> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const pod = await this.api.get<Pod>(R.Pod, name, this.opts.namespace);
      const phase = pod?.status?.phase;
      if (!pod || phase === 'Succeeded' || phase === 'Failed') return phase;
      if (Date.now() > deadline) return undefined;
      await sleep(this.t.pollMs, this.signal);
    }
  }

  /** The client of one test, retried on busy/refused answers up to maxAttempts. */
  private async runClient(test: CheckTest, obs: TestObservation): Promise<void> {
    const { t, opts } = this;
    const n = this.numberOf.get(test.id) ?? 0;
    for (let attempt = 1; attempt <= t.maxAttempts; attempt++) {
      obs.attempts = attempt;
      if (attempt === 1 && this.params.via === 'claim') await this.createTemplate(nicClaimTemplate(test, n, 'client', this.params));
      const pod = clientPod(test, n, obs.server?.address ?? '', this.params, attempt, obs.server?.interface ?? POD_NIC);
      const name = pod.metadata?.name ?? '';
      await this.create(pod);
      obs.client = await this.waitStarted(name, test.network);
      if (!obs.client.started || !obs.client.address) return;
      const phase = await this.waitFinished(name, opts.duration * 1000 + t.clientSlackMs);
      obs.client.phase = phase ?? obs.client.phase;
      obs.clientTimedOut = phase === undefined;
      obs.client.log = await this.readLog(name);
      if (obs.clientTimedOut || obs.client.log === undefined) return;
      const outcome = parseIperf3Client(obs.client.log);
      if (!retryable(outcome) || attempt === t.maxAttempts) return;
      this.emit({ type: 'retry', test, attempt, reason: outcome.ok ? '' : outcome.error });
      if (!opts.keepPods) await this.remove(name);
      await sleep(t.retryDelayMs * attempt, this.signal);
    }
  }

  /** The servers of one host pair (one per NIC), ready ones first, then all their clients at once. */
  private async measureGroup(g: CheckGroup, observations: Map<string, TestObservation>): Promise<void> {
    const runnable = g.tests.filter((x) => x.clientNic && x.serverNic);
    const serving = new Map<string, boolean>();
    await Promise.all(
      runnable.map(async (test) => {
        const obs = observations.get(test.id) as TestObservation;
        const pod = serverPod(test, this.numberOf.get(test.id) ?? 0, this.params);
        if (this.params.via === 'claim') await this.createTemplate(nicClaimTemplate(test, this.numberOf.get(test.id) ?? 0, 'server', this.params));
        await this.create(pod);
        obs.server = await this.waitStarted(pod.metadata?.name ?? '', test.network);
        if (obs.server.started && obs.server.address) serving.set(test.id, await this.waitListening(obs.server));
      }),
    );
    const ready = runnable.filter((x) => serving.get(x.id));
    this.emit({ type: 'servers-ready', group: g, ready: ready.length });
    // All clients of the pair at once: the aggregate is a simultaneous measurement.
    await Promise.all(ready.map((test) => this.runClient(test, observations.get(test.id) as TestObservation)));
    await Promise.all(
      runnable.map(async (test) => {
        const obs = observations.get(test.id);
        if (obs?.server?.started && obs.server.log === undefined) obs.server.log = await this.readLog(obs.server.name);
      }),
    );
  }

  /** Measures one group, records a result for each of its tests whatever happens, deletes its pods. */
  async runGroup(g: CheckGroup): Promise<void> {
    const { opts } = this;
    this.emit({ type: 'group', group: g });
    const observations = new Map<string, TestObservation>(g.tests.map((x) => [x.id, { attempts: 0 }]));
    try {
      await this.measureGroup(g, observations);
    } catch (e) {
      if (!(e instanceof Aborted)) {
        this.fatal ??= e;
        this.ctl.abort();
      }
      for (const o of observations.values()) o.aborted = true;
    } finally {
      for (const test of g.tests) {
        if (!this.results.has(test.id)) this.record(evaluateTest(test, observations.get(test.id) as TestObservation, { tolerance: opts.tolerance, namespace: opts.namespace, maxAttempts: this.t.maxAttempts }));
      }
      this.emit({ type: 'group-done', group: g });
      if (!opts.keepPods) {
        const mine = (names: Iterable<string>) => [...names].filter((name) => g.tests.some((x) => name.startsWith(`mnchk-${this.runId}-${this.numberOf.get(x.id)}-`)));
        await Promise.all(mine(this.created).map((name) => this.remove(name)));
        // The pods' claims go with the pods (owned by them); their templates are ours to delete.
        await Promise.all(mine(this.templates).map((name) => this.removeTemplate(name)));
      }
    }
  }

  /**
   * Runs the groups, at most opts.concurrency at once and never two on one host (nextRunnable);
   * groups an abort kept from starting are recorded as aborted.
   */
  async runGroups(): Promise<void> {
    const pending = [...this.plan.groups];
    const busy = new Set<string>();
    const running = new Set<Promise<void>>();
    while (pending.length && !this.signal.aborted) {
      const g = running.size < this.opts.concurrency ? nextRunnable(pending, busy) : undefined;
      if (!g) {
        if (!running.size) break;
        await Promise.race(running);
        continue;
      }
      pending.splice(pending.indexOf(g), 1);
      busy.add(g.clientHost).add(g.serverHost);
      const p: Promise<void> = this.runGroup(g).finally(() => {
        busy.delete(g.clientHost);
        busy.delete(g.serverHost);
        running.delete(p);
      });
      running.add(p);
    }
    await Promise.allSettled(running);
    for (const g of pending) for (const test of g.tests) this.record(evaluateTest(test, { attempts: 0, aborted: true }, { tolerance: this.opts.tolerance, namespace: this.opts.namespace }));
  }
}

/** Runs every test of `plan`; resolves with the results (skips for tests an abort prevented). */
export async function runCheck(api: KubeApi, plan: CheckPlan, opts: CheckOptions, ro: RunOptions = {}): Promise<RunOutcome> {
  const t: RunTimings = { ...DEFAULT_TIMINGS, ...ro.timings };
  const startedAt = new Date();
  const emit = ro.onEvent ?? (() => undefined);
  const run = new CheckRun(api, plan, opts, t, ro.runId ?? newRunId(), emit);
  const onOuterAbort = (): void => run.ctl.abort();
  if (ro.signal?.aborted) run.ctl.abort();
  ro.signal?.addEventListener('abort', onOuterAbort, { once: true });
  emit({ type: 'start', runId: run.runId, tests: plan.tests.length, groups: plan.groups.length });
  try {
    await run.runGroups();
  } finally {
    ro.signal?.removeEventListener('abort', onOuterAbort);
  }
  const leftovers = opts.keepPods ? [...run.created].sort() : await sweep(api, opts.namespace, run.runId, run.created, t, emit);
  if (!opts.keepPods && (opts.via === 'claim' || run.templates.size)) await sweepTemplates(api, opts.namespace, run.runId);
  if (run.fatal) throw run.fatal;
  return {
    runId: run.runId,
    results: plan.tests.map((x) => run.results.get(x.id)).filter((r): r is TestResult => !!r),
    interrupted: !!ro.signal?.aborted,
    leftovers,
    startedAt,
    finishedAt: new Date(),
  };
}

/**
 * Deletes every pod of the run — those we created and any the run label finds (a create whose
 * answer was lost) — and waits until they are gone. Returns the names still present.
 */
export async function sweep(api: KubeApi, namespace: string, runId: string, created: Iterable<string>, t: Pick<RunTimings, 'pollMs' | 'cleanupWaitMs'> = DEFAULT_TIMINGS, emit: (e: CheckEvent) => void = () => undefined): Promise<string[]> {
  const byLabel = async (): Promise<string[]> => {
    try {
      return (await api.list(R.Pod, { namespace, labelSelector: `${RUN_LABEL}=${runId}` })).items.map((p) => p.metadata?.name ?? '');
    } catch {
      return [...created];
    }
  };
  const names = new Set([...created, ...(await byLabel())]);
  emit({ type: 'cleanup', pods: names.size });
  await Promise.all(
    [...names].map(async (n) => {
      try {
        await api.delete(R.Pod, n, namespace);
      } catch {
        /* reported below if it stays */
      }
    }),
  );
  const deadline = Date.now() + t.cleanupWaitMs;
  let left = await byLabel();
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, t.pollMs));
    left = await byLabel();
  }
  left.sort();
  emit({ type: 'cleanup-done', leftovers: left });
  return left;
}

/** --via claim: deletes the run's ResourceClaimTemplates (by its label, so a lost create answer is covered too). */
export async function sweepTemplates(api: KubeApi, namespace: string, runId: string): Promise<void> {
  const items = await api.list(R.ResourceClaimTemplate, { namespace, labelSelector: `${RUN_LABEL}=${runId}` }).then((l) => l.items, () => []);
  await Promise.all(items.map((t) => api.delete(R.ResourceClaimTemplate, t.metadata?.name ?? '', namespace).catch(() => undefined)));
}
