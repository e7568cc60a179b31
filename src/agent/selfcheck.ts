// The agent's continuous self-check (docs/metrics.md#self-check): every interval it proves, on the
// real paths, what a pod ADD needs from it: the CNI socket answers (GET /v1/healthz over the unix
// socket, as the plugin connects), the IPAM journal's directory takes a durable write (a small file
// written, fsynced and removed next to the journal: a read-only or full disk fails here before an
// ADD does), and, with --kube, whether the Kubernetes API answers (from the agent's own calls; no
// extra request). Results feed the probes (src/agent/metrics.ts): socket failing `liveAfter` times
// in a row makes /healthz fail, so the kubelet restarts an agent whose socket is gone or wedged;
// socket or journal failing makes /readyz fail. The API is reported only: pods are served from
// caches and the journal during an outage, and restarting every agent would not bring the API back.
import { open, unlink } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';

export type SelfCheckName = 'socket' | 'journal' | 'api';

export interface SelfCheckResult {
  ok: boolean;
  /** Why not, when !ok. */
  detail?: string;
  /** Consecutive failures (0 when ok). */
  failures: number;
  at: string;
}

export interface SelfCheckOptions {
  socketPath: string;
  /** Where the IPAM journal lives (a probe file is written there); undefined: no journal check (an injected IPAM). */
  journalDir?: string;
  /** --kube: whether the API is down now (the agent's outage tracker). */
  apiDown?: () => boolean;
  intervalMs?: number;
  timeoutMs?: number;
  /** Consecutive socket failures before /healthz fails (default 3). */
  liveAfter?: number;
  log?: (e: Record<string, unknown>) => void;
}

/** GET /v1/healthz on the agent socket; resolves when it answers 200 within timeoutMs. */
export function socketAnswers(socketPath: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path: '/v1/healthz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`the agent socket answered ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`the agent socket did not answer within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'ENOENT' ? `the agent socket ${socketPath} is gone` : e.message)));
    req.end();
  });
}

/** Writes, fsyncs and removes a small file in `dir` (what a journal append needs from the disk). */
export async function dirTakesDurableWrite(dir: string): Promise<void> {
  const path = join(dir, `.selfcheck-${process.pid}`);
  const fh = await open(path, 'w', 0o600);
  try {
    await fh.writeFile('selfcheck\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await unlink(path);
}

export class SelfCheck {
  private readonly results = new Map<SelfCheckName, SelfCheckResult>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: SelfCheckOptions) {}

  /** Runs one round now, then every intervalMs (default 10 s). */
  start(): void {
    void this.run();
    this.timer = setInterval(() => void this.run(), this.o.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round; a round asked for while one runs shares it. */
  run(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The newest result per check (a check that has not run yet is absent). */
  last(): ReadonlyMap<SelfCheckName, SelfCheckResult> {
    return this.results;
  }

  /** Why the agent should be restarted, or undefined (the socket failed liveAfter rounds in a row). */
  notLive(): string | undefined {
    const s = this.results.get('socket');
    return s && s.failures >= (this.o.liveAfter ?? 3) ? `self-check: ${s.detail ?? 'socket'} (${s.failures} times in a row)` : undefined;
  }

  /** Why the agent cannot serve an ADD now, or undefined. */
  notReady(): string | undefined {
    for (const n of ['socket', 'journal'] as const) {
      const r = this.results.get(n);
      if (r && !r.ok) return `self-check ${n}: ${r.detail ?? 'failed'}`;
    }
    return undefined;
  }

  private async round(): Promise<void> {
    const timeoutMs = this.o.timeoutMs ?? 2000;
    const checks: Array<[SelfCheckName, () => Promise<void>]> = [['socket', () => socketAnswers(this.o.socketPath, timeoutMs)]];
    const journalDir = this.o.journalDir;
    if (journalDir !== undefined) checks.push(['journal', () => dirTakesDurableWrite(journalDir)]);
    const apiDown = this.o.apiDown;
    if (apiDown) checks.push(['api', async () => { if (apiDown()) throw new Error('the Kubernetes API does not answer the agent\'s calls'); }]);
    await Promise.all(checks.map(async ([name, fn]) => {
      let detail: string | undefined;
      try {
        await fn();
      } catch (e) {
        detail = (e as Error).message;
      }
      const prev = this.results.get(name);
      const r: SelfCheckResult = { ok: detail === undefined, ...(detail !== undefined ? { detail } : {}), failures: detail === undefined ? 0 : (prev?.failures ?? 0) + 1, at: new Date().toISOString() };
      if (prev && prev.ok !== r.ok) this.o.log?.({ level: r.ok ? 'info' : 'warn', msg: r.ok ? 'self-check passes again' : 'self-check failed', check: name, ...(detail ? { error: detail } : {}) });
      else if (!prev && !r.ok) this.o.log?.({ level: 'warn', msg: 'self-check failed', check: name, error: detail });
      this.results.set(name, r);
    }));
  }
}
