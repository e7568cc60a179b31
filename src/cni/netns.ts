// Reading a pod netns back for CHECK and DEL, and deleting a pod link, through the namespace-entry
// helper (src/host/exec.ts).
import { existsSync } from 'node:fs';
import { CommandError, ipJson, run } from '../host/exec.js';
import type { NetnsState } from './plugin.js';

interface IpAddrJson {
  ifname: string;
  addr_info?: Array<{ local: string; prefixlen: number; scope?: string }>;
}
interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** Reads links, addresses and routes of a netns path through the namespace-entry helper. */
export async function readNetns(netns: string): Promise<NetnsState | undefined> {
  if (!existsSync(netns)) return undefined;
  const ref = { path: netns };
  const [addrs, routes4, routes6] = await Promise.all([
    ipJson<IpAddrJson>(['addr', 'show'], ref),
    ipJson<IpRouteJson>(['-4', 'route', 'show', 'table', 'main'], ref),
    ipJson<IpRouteJson>(['-6', 'route', 'show', 'table', 'main'], ref),
  ]);
  return {
    links: addrs.map((l) => ({ ifname: l.ifname, addrs: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) })),
    routes: [...routes4, ...routes6].map((r) => ({ dst: r.dst, ...(r.gateway ? { gw: r.gateway } : {}), ...(r.dev ? { dev: r.dev } : {}) })),
  };
}

/** Deletes `ifName` inside the netns at `netns`; idempotent (netns or link already gone is success). */
export async function deleteLink(netns: string, ifName: string): Promise<void> {
  if (!existsSync(netns)) return;
  try {
    await run('ip', ['link', 'del', 'dev', ifName], { netns: { path: netns } });
  } catch (err) {
    if (err instanceof CommandError && /Cannot find device|does not exist|No such file/i.test(err.stderr)) return;
    throw err;
  }
}
