// Fault injection for tests: the next N requests matching a method and a path pattern get an
// error Status (409 Conflict, 500, 503, 429 ...) or a delay; open watches can be dropped at once.
// Rules are checked in the order added; the first live matching rule applies and counts down.
import { failure, type Status, type StatusReason } from './errors.js';

export interface FaultMatch {
  /** HTTP method (GET, PUT, PATCH, POST, DELETE); any when omitted. */
  method?: string;
  /** Tested against the request's path and query (`/apis/multinic.fms.io/v1/cidrs/net?…`). */
  path?: RegExp;
  /** How many requests to affect (default 1; Infinity until cleared). */
  times?: number;
}

export interface Fault {
  /** Requests still to be affected. */
  readonly remaining: number;
  /** Requests affected so far. */
  readonly hits: number;
  cancel(): void;
}

interface Rule extends Fault {
  method?: string;
  path?: RegExp;
  remaining: number;
  hits: number;
  status?: Status;
  delayMs?: number;
}

const REASONS: Record<number, StatusReason> = {
  400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 410: 'Gone',
  422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'InternalError', 504: 'Timeout',
};

export class Faults {
  private rules: Rule[] = [];

  constructor(private readonly dropAllWatches: () => number) {}

  /** Answers matching requests with an error Status of `code` instead of handling them. */
  fail(m: FaultMatch & { code: number; message?: string }): Fault {
    const reason = REASONS[m.code] ?? 'InternalError';
    const message = m.message ?? (m.code === 409 ? 'Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again (injected)' : `injected fault: ${m.code} ${reason}`);
    const details = m.code === 429 ? { retryAfterSeconds: 1 } : undefined;
    return this.add(m, { status: failure(m.code, reason, message, details).status });
  }

  /** Delays matching requests by `ms` before handling them normally. */
  delay(m: FaultMatch & { ms: number }): Fault {
    return this.add(m, { delayMs: m.ms });
  }

  /** Ends every open watch stream now, as an apiserver restart or a load balancer would. */
  dropWatches(): number {
    return this.dropAllWatches();
  }

  clear(): void {
    this.rules = [];
  }

  /** The server's hook: the fault for this request, if any (and counts it). */
  take(method: string, pathAndQuery: string): { status?: Status; delayMs?: number } | undefined {
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.method && r.method.toUpperCase() !== method.toUpperCase()) continue;
      if (r.path && !r.path.test(pathAndQuery)) continue;
      r.remaining--;
      r.hits++;
      const out: { status?: Status; delayMs?: number } = {};
      if (r.status) out.status = r.status;
      if (r.delayMs !== undefined) out.delayMs = r.delayMs;
      return out;
    }
    return undefined;
  }

  private add(m: FaultMatch, effect: { status?: Status; delayMs?: number }): Fault {
    const rule: Rule = {
      remaining: m.times ?? 1,
      hits: 0,
      cancel: () => {
        rule.remaining = 0;
      },
      ...effect,
    };
    if (m.method) rule.method = m.method;
    if (m.path) rule.path = m.path;
    this.rules.push(rule);
    return rule;
  }
}
