// Noticing at once when someone else changes the agent's routes, rules or shims: `ip monitor route
// rule` lines about policy tables (not main/local), rules, or the mnshim links fire `onChange`
// (debounced: a burst such as `ip route flush table N` is one call), so the agent re-asserts them
// within a second instead of at its periodic resync. The agent's own changes echo here too; the
// reconcile they trigger finds nothing to do.
import type { ChildProcess } from 'node:child_process';
import { SHIM_PREFIX } from '../lib/agent/discovery.js';
import { start, type NetnsRef } from '../host/exec.js';

/** True for a monitor line that may concern the agent's tables, rules or shims. */
export function concernsAgent(line: string): boolean {
  const l = line.trim();
  if (!l) return false;
  if (l.includes(SHIM_PREFIX)) return true;
  // Rule lines: "[Deleted ]32765:\tfrom 192.168.0.0/16 lookup 101".
  if (/^(Deleted\s+)?\d+:\s/.test(l) && /\blookup\b/.test(l)) return true;
  const t = /\btable (\S+)/.exec(l);
  return !!t && t[1] !== 'local' && t[1] !== 'main';
}

export interface RouteWatchOptions {
  netns?: NetnsRef;
  /** Quiet time after the last relevant line before firing (default 50 ms). */
  debounceMs?: number;
  /** Longest a burst may delay the call (default 250 ms). */
  maxDelayMs?: number;
  log?: (event: Record<string, unknown>) => void;
}

/** Follows `ip monitor route rule` until stop() (restarted if it exits). */
export function watchRoutes(onChange: () => void, opts: RouteWatchOptions = {}): () => void {
  const debounce = opts.debounceMs ?? 50;
  const maxDelay = opts.maxDelayMs ?? 250;
  let timer: NodeJS.Timeout | undefined;
  let first = 0;
  let stopped = false;
  let child: ChildProcess | undefined;
  const fire = () => {
    if (stopped) return;
    const now = Date.now();
    if (!timer) first = now;
    clearTimeout(timer);
    const wait = Math.max(0, Math.min(debounce, first + maxDelay - now));
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, wait);
  };
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    if (lines.some(concernsAgent)) fire();
  };
  let spawned = 0;
  const spawnMonitor = () => {
    if (stopped) return;
    partial = '';
    child = start('ip', ['monitor', 'route', 'rule'], { netns: opts.netns });
    child.stdout?.on('data', onData);
    // A change while no monitor ran (it exited) would otherwise wait for the periodic resync.
    if (spawned++ > 0) fire();
    child.on('error', (e) => opts.log?.({ level: 'warn', msg: 'ip monitor route failed', error: e.message }));
    child.on('exit', () => {
      if (!stopped) setTimeout(spawnMonitor, 1000).unref();
    });
  };
  spawnMonitor();
  return () => {
    stopped = true;
    clearTimeout(timer);
    child?.kill();
  };
}
