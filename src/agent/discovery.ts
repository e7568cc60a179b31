// NIC discovery on the agent's host: `ip -json` for links, addresses and the default route, sysfs
// for PCI identity, NUMA node and speed. The decisions are in src/lib/agent/discovery.ts.
import { readFile, realpath } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { ipJson, start, type NetnsRef } from '../host/exec.js';
import { secondaryNics, type DiscoveredNic, type DiscoveryOptions, type IpAddrLink, type IpRoute, type SysfsNicFacts } from '../lib/agent/discovery.js';
import { parseHexId, parseNumaNode, parseSpeed, pciFromDevicePath } from '../lib/agent/sysfs.js';

export interface DiscoverOptions extends DiscoveryOptions {
  /** sysfs mount point ('/sys'); tests point it at a fixture tree. */
  sysfsRoot?: string;
  netns?: NetnsRef;
}

const readText = (p: string) => readFile(p, 'utf8').catch(() => undefined);

/** sysfs facts of one netdev; every file is optional (virtual links have no `device`). */
export async function readSysfsFacts(root: string, ifname: string): Promise<SysfsNicFacts> {
  const base = `${root}/class/net/${ifname}`;
  const facts: SysfsNicFacts = { speed: parseSpeed(await readText(`${base}/speed`)) };
  const dev = await realpath(`${base}/device`).catch(() => undefined);
  const pci = dev ? pciFromDevicePath(dev) : undefined;
  if (dev && pci) {
    const pciDir = dev.endsWith(pci) ? dev : dev.slice(0, dev.lastIndexOf('/'));
    facts.pciAddress = pci;
    const vendor = parseHexId(await readText(`${pciDir}/vendor`));
    const product = parseHexId(await readText(`${pciDir}/device`));
    if (vendor) facts.vendor = vendor;
    if (product) facts.product = product;
    facts.numaNode = parseNumaNode(await readText(`${pciDir}/numa_node`));
  }
  return facts;
}

/** Discovers the host's secondary NICs now (one `ip` call per kind, sysfs read per candidate). */
export async function discoverNics(opts: DiscoverOptions = {}): Promise<DiscoveredNic[]> {
  const [links, routes] = await Promise.all([
    ipJson<IpAddrLink>(['-d', 'addr', 'show'], opts.netns),
    ipJson<IpRoute>(['route', 'show', 'default'], opts.netns),
  ]);
  const root = opts.sysfsRoot ?? '/sys';
  const facts: Record<string, SysfsNicFacts> = {};
  await Promise.all(links.map(async (l) => (facts[l.ifname] = await readSysfsFacts(root, l.ifname))));
  return secondaryNics(links, routes, facts, { keepDown: true, ...opts });
}

/**
 * Tells which `ip monitor link address` output is news. A link message that prints exactly as the
 * last one for the same link is not: every pod attached to a NIC (a macvlan or ipvlan on it, created
 * in the pod's netns) sends the NIC's own link message again, unchanged, and each one was a
 * re-scan (three `ip` processes) under pod churn. The first message of a link, a changed one, a
 * deletion and every address message are news.
 */
export class MonitorNews {
  private readonly last = new Map<string, string>();
  private partial = '';
  private block: { key: string; text: string } | undefined;

  /** Feeds a chunk of monitor output; true when it holds news. */
  feed(chunk: string): boolean {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    let news = false;
    for (const line of lines) {
      if (line === '') continue;
      if (/^\s/.test(line)) {
        // A link message's continuation (link/ether ...), or an address's (valid_lft ...).
        if (this.block) this.block.text += `\n${line}`;
        continue;
      }
      news = this.close() || news;
      const link = /^(\d+): (\S+?)(@\S+)?: </.exec(line);
      if (link) this.block = { key: link[1]!, text: line };
      else {
        // A deletion (its index may come back as another link), an address message, anything else.
        const gone = /^Deleted (\d+): /.exec(line);
        if (gone) this.last.delete(gone[1]!);
        news = true;
      }
    }
    // A message ends with its chunk (ip writes each one whole); a split one only re-scans once more.
    return this.close() || news;
  }

  private close(): boolean {
    const b = this.block;
    this.block = undefined;
    if (!b) return false;
    if (this.last.get(b.key) === b.text) return false;
    this.last.set(b.key, b.text);
    return true;
  }
}

/**
 * Calls `onEvent` (debounced by `debounceMs`, but at least once every `maxWaitMs` while events keep
 * coming) whenever `ip monitor link address` reports news (MonitorNews), and every `intervalMs`
 * regardless (monitor lines can be lost if the process is restarted). Returns stop().
 */
export function watchNics(onEvent: () => void, opts: { netns?: NetnsRef; debounceMs?: number; maxWaitMs?: number; intervalMs?: number } = {}): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // Debounced, with a bound: a burst of events is one re-scan, and a steady stream of them (a
  // flapping link, a busy host) still gets one at least every maxWaitMs instead of starving.
  const debounceMs = opts.debounceMs ?? 200;
  const maxWaitMs = Math.max(debounceMs, opts.maxWaitMs ?? 1000);
  let firstPending: number | undefined;
  const run = () => {
    timer = undefined;
    firstPending = undefined;
    onEvent();
  };
  const fire = () => {
    if (stopped) return;
    const now = Date.now();
    firstPending ??= now;
    clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, Math.min(debounceMs, firstPending + maxWaitMs - now)));
  };
  let child: ChildProcess | undefined;
  const spawnMonitor = () => {
    if (stopped) return;
    child = start('ip', ['monitor', 'link', 'address'], { netns: opts.netns });
    const news = new MonitorNews();
    child.stdout?.on('data', (c: Buffer) => {
      if (news.feed(c.toString('utf8'))) fire();
    });
    // One re-scan once the monitor runs: a change between the caller's first scan (or the previous
    // monitor's exit) and this subscription would otherwise wait for the periodic re-scan (a veth's
    // carrier comes up to a second after `link set up`, so an agent started with its NICs did miss them).
    fire();
    child.on('error', () => undefined);
    child.on('exit', () => {
      if (!stopped) setTimeout(spawnMonitor, 1000).unref();
    });
  };
  spawnMonitor();
  const periodic = setInterval(fire, opts.intervalMs ?? 30_000);
  periodic.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(periodic);
    child?.kill();
  };
}
