// The agent's metrics/probe listen address (`--metrics-addr`), parsed without touching the network.
// Pure: src/agent/metrics.ts binds what this returns.
import { UserError } from '../errors.js';
import { parseIp } from '../net/ip.js';

/** The default `--metrics-addr`: every address of the host (the DaemonSet runs on the host network). */
export const DEFAULT_METRICS_ADDR = ':9417';
export const DEFAULT_METRICS_PORT = 9417;

export interface ListenAddress {
  /** An IP literal; undefined = every address. */
  host?: string;
  port: number;
}

const HINT = 'give HOST:PORT or :PORT, e.g. --metrics-addr :9417, --metrics-addr 127.0.0.1:9417, --metrics-addr [::1]:9417; an empty value turns the listener off';

/**
 * Parses `[HOST]:PORT` with HOST an IPv4 literal or a bracketed IPv6 literal (no names: the agent
 * must not resolve DNS to open its probe port). Returns undefined for '' (off). Port 0 picks a free
 * port (tests). Throws a UserError naming the value otherwise.
 */
export function parseListenAddress(value: string, flag = '--metrics-addr'): ListenAddress | undefined {
  if (value === '') return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UserError(`${flag} "${value}" is not [HOST]:PORT with a port from 0 to 65535`, { hint: HINT });
  const host = m[1] ?? m[2];
  if (host === undefined || host === '') return { port };
  const want = m[1] !== undefined ? 6 : 4;
  let family: number | undefined;
  try {
    family = parseIp(host).family;
  } catch {
    family = undefined;
  }
  if (family !== want) throw new UserError(`${flag} "${value}": "${host}" is not an IPv${want} address`, { hint: HINT });
  return { host, port };
}
