// NICs lent to pods. host-device moves the host NIC itself into the pod's network namespace, so
// while a pod holds it the NIC is gone from the host: the agent must still know it (HostInterface
// keeps it, so the host keeps its block in the CIDR), never offer it to another pod, and restore it
// when it comes back. host-device's DEL (reference plugins 1.1.1) moves the link back down, renamed
// to its host name (which it kept in the link's alias) and without any address, so the agent puts
// back what the host had: the name, the MTU, every address, and the link up.
//
// Durable: every change is in <data-dir>/lent-nics.json (write, fsync, rename, fsync the directory)
// before the request that made it is answered, so an agent restarted while a NIC is lent still
// knows it is lent, to whom, and what to restore.
//
// When a pod's netns goes away without a DEL the kernel gives a physical NIC back to the root
// network namespace under the name it had in the pod (net1-0, or devN when that is taken); the
// agent finds it by its alias or ifindex once the lending is older than the grace period. A virtual
// NIC (a veth of a test bed or the lab) is destroyed with the namespace instead: it never comes
// back, and once its attachment is released the agent stops reporting it (docs/nics.md).
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DiscoveredNic } from '../lib/agent/discovery.js';
import type { HostLink, HostNetwork, LinkOp } from './hostnet.js';

/** The attachment a NIC is lent to: network + CNI container ID + CNI ifName (unique per node). */
export interface LendingHolder {
  network: string;
  containerID: string;
  ifName: string;
  podUID?: string;
}

export interface LentNic {
  /** The NIC as discovered when it was lent: what the host reports and restores. */
  nic: DiscoveredNic;
  /** The host's global addresses on it (with prefix), restored when it comes back. */
  addresses: string[];
  holder: LendingHolder;
  pod?: { namespace: string; name: string };
  /** CNI_NETNS of the pod, when the CNI sent it. */
  netns?: string;
  podInterface: string;
  lentAt: number;
  /** When the attachment was released (DEL) while the NIC was not yet back in the host namespace. */
  releasedAt?: number;
}

/** A NIC asked for is lent to another attachment. */
export class NicLentError extends Error {
  constructor(
    readonly nic: string,
    readonly to: LentNic,
  ) {
    super(`NIC ${nic} is lent to ${describeHolder(to)}`);
    this.name = 'NicLentError';
  }
}

export function describeHolder(l: LentNic): string {
  return `pod ${l.pod ? `${l.pod.namespace}/${l.pod.name}` : (l.holder.podUID ?? '?')} (container ${l.holder.containerID.slice(0, 12)} ${l.podInterface})`;
}

const sameHolder = (a: LendingHolder, b: LendingHolder) => a.network === b.network && a.containerID === b.containerID && a.ifName === b.ifName;

/** The host's global addresses of a discovered NIC, with prefix. */
export function nicAddresses(n: DiscoveredNic): string[] {
  const out: string[] = [];
  if (n.hostIP && n.netAddress) out.push(`${n.hostIP}/${n.netAddress.split('/')[1]}`);
  if (n.hostIPv6 && n.netAddressV6) out.push(`${n.hostIPv6}/${n.netAddressV6.split('/')[1]}`);
  return out;
}

/**
 * Where a lent NIC is in the host namespace now, if it is: under its own name, else a link whose
 * alias is that name (host-device stores the host name in the alias on ADD; the kernel returns a
 * NIC under its pod name, alias kept). Not by ifindex: a new link may have taken it meanwhile.
 */
export function findReturned(rec: LentNic, links: HostLink[]): HostLink | undefined {
  const name = rec.nic.interfaceName;
  return links.find((l) => l.name === name) ?? links.find((l) => l.alias === name);
}

/** The operations that make `link` the NIC the host lent: its name, MTU, addresses, up. Pure. */
export function restoreOps(rec: LentNic, link: HostLink): LinkOp[] {
  const name = rec.nic.interfaceName;
  const ops: LinkOp[] = [];
  const renamed = link.name !== name;
  if (renamed) ops.push({ op: 'link-down', name: link.name }, { op: 'link-rename', name: link.name, to: name });
  if (rec.nic.mtu !== undefined && link.mtu !== undefined && link.mtu !== rec.nic.mtu) ops.push({ op: 'link-mtu', name, mtu: rec.nic.mtu });
  for (const a of rec.addresses) if (!link.addresses.includes(a)) ops.push({ op: 'addr-add', dev: name, address: a, ...(a.includes(':') ? { nodad: true } : {}) });
  if (renamed || !link.up) ops.push({ op: 'link-up', name });
  return ops;
}

/**
 * Directories of pod netns bind mounts the agent sees as the host does: the DaemonSet mounts
 * /run/netns with HostToContainer propagation (src/lib/install/render.ts); /var/run is /run.
 */
const VISIBLE_NETNS_DIRS = new Set(['/run/netns', '/var/run/netns']);

/**
 * Whether a pod's netns path is there, judged from the agent's own mount and PID namespaces:
 * 'gone' only for a path in a netns directory the agent sees (and that exists); a missing
 * /proc/<pid>/ns/net (the agent does not share the host's PID namespace), or a path under a
 * directory it does not mount, is 'unknown', never gone: dropping a lending on it would hand the
 * NIC to another pod while it is still in this one.
 */
export function netnsState(path: string, exists: (p: string) => boolean = existsSync): 'present' | 'gone' | 'unknown' {
  if (exists(path)) return 'present';
  const dir = dirname(path);
  return VISIBLE_NETNS_DIRS.has(dir) && exists(dir) ? 'gone' : 'unknown';
}

export interface NicLendingOptions {
  path: string;
  hostNet: HostNetwork;
  /** A lent NIC found back in the host namespace is reclaimed without a DEL only after this long (default 60 s). */
  graceMs?: number;
  now?: () => number;
  log?: (e: Record<string, unknown>) => void;
  /** Whether a path exists, as the agent sees it (default existsSync); judged by netnsState. */
  netnsExists?: (path: string) => boolean;
  /** fsync the file and its directory (default true). */
  fsync?: boolean;
}

export interface ReclaimReport {
  /** NICs put back as the host had them. */
  restored: string[];
  /** Released NICs not back in the host namespace (yet). */
  waiting: string[];
}

interface LendingFile {
  apiVersion: 'v1';
  kind: 'LentNics';
  lent: LentNic[];
}

export class NicLending {
  private records: LentNic[];
  private chain: Promise<unknown> = Promise.resolve();
  private writes: Promise<unknown> = Promise.resolve();
  private readonly warned = new Set<string>();

  private constructor(
    private readonly opts: NicLendingOptions,
    records: LentNic[],
  ) {
    this.records = records;
  }

  /** Reads the lending record; a missing file is an empty one, a malformed one refuses to start. */
  static async open(opts: NicLendingOptions): Promise<NicLending> {
    let text: string | undefined;
    try {
      text = await readFile(opts.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let records: LentNic[] = [];
    if (text !== undefined) {
      let doc: Partial<LendingFile> | undefined;
      try {
        doc = JSON.parse(text) as Partial<LendingFile>;
      } catch {
        doc = undefined;
      }
      if (!doc || doc.kind !== 'LentNics' || !Array.isArray(doc.lent) || !doc.lent.every(validRecord)) {
        throw new Error(`the record of lent NICs ${opts.path} is not valid JSON of kind LentNics; move it aside to start (the agent then forgets which NICs pods hold: restore a NIC by hand with \`ip link set NAME up\` and its addresses once its pod is gone)`);
      }
      records = doc.lent;
    }
    return new NicLending(opts, records);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Every record, lent or released-and-waiting. */
  list(): LentNic[] {
    return this.records.map((r) => structuredClone(r));
  }

  /** The lending of a NIC to an attachment that still holds it, if any. */
  lentTo(name: string): LentNic | undefined {
    return this.records.find((r) => r.nic.interfaceName === name && r.releasedAt === undefined);
  }

  /** NICs lent to live attachments: the host still owns them (HostInterface keeps them). */
  outstanding(): DiscoveredNic[] {
    return this.records.filter((r) => r.releasedAt === undefined).map((r) => structuredClone(r.nic));
  }

  /**
   * Lends `nics` to `holder`, durably, before the CNI moves them. The check and the in-memory mark
   * are synchronous, so two concurrent ADDs can never both get one NIC: the second gets
   * NicLentError. Lending again to the same holder is a no-op (a repeated ADD).
   */
  async lend(holder: LendingHolder, nics: Array<{ nic: DiscoveredNic; podInterface: string }>, meta: { pod?: { namespace: string; name: string }; netns?: string } = {}): Promise<void> {
    for (const { nic } of nics) {
      const other = this.lentTo(nic.interfaceName);
      if (other && !sameHolder(other.holder, holder)) throw new NicLentError(nic.interfaceName, other);
    }
    let added = false;
    for (const { nic, podInterface } of nics) {
      if (this.lentTo(nic.interfaceName)) continue;
      // A NIC released while it was away and lent again: its earlier record is superseded.
      this.records = this.records.filter((r) => r.nic.interfaceName !== nic.interfaceName);
      this.records.push({ nic: structuredClone(nic), addresses: nicAddresses(nic), holder: { ...holder }, ...(meta.pod ? { pod: meta.pod } : {}), ...(meta.netns ? { netns: meta.netns } : {}), podInterface, lentAt: this.now() });
      added = true;
    }
    if (added) await this.persist();
  }

  /**
   * The attachment is released (CNI DEL, or an ADD rolled back): its NICs are due back. Restores
   * those already in the host namespace; the others wait for reclaim(). Returns how many it had.
   */
  async giveBack(holder: LendingHolder): Promise<number> {
    const mine = this.records.filter((r) => r.releasedAt === undefined && sameHolder(r.holder, holder));
    if (mine.length === 0) return 0;
    const at = this.now();
    for (const r of mine) r.releasedAt = at;
    await this.persist();
    await this.reclaim();
    return mine.length;
  }

  /**
   * Restores every NIC that is due back and is in the host namespace: released ones, and lent
   * ones found back there after the grace period (their pod's netns went away without a DEL).
   * Released NICs not found are reported as waiting (a veth is destroyed with its pod's netns; a
   * physical NIC may only show up later). Serialised; never throws (failures are logged and retried).
   */
  reclaim(): Promise<ReclaimReport> {
    const next = this.chain.then(() => this.reclaimNow());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async reclaimNow(): Promise<ReclaimReport> {
    const report: ReclaimReport = { restored: [], waiting: [] };
    if (this.records.length === 0) return report;
    const log = this.opts.log ?? (() => undefined);
    let links: HostLink[];
    try {
      links = await this.opts.hostNet.links();
    } catch (e) {
      log({ level: 'error', msg: 'cannot list links to restore lent NICs', error: (e as Error).message });
      return report;
    }
    const grace = this.opts.graceMs ?? 60_000;
    const netnsExists = this.opts.netnsExists ?? existsSync;
    let changed = false;
    for (const rec of [...this.records]) {
      const name = rec.nic.interfaceName;
      const link = findReturned(rec, links);
      if (rec.releasedAt === undefined) {
        const podGone = rec.netns !== undefined && netnsState(rec.netns, netnsExists) === 'gone';
        if (!link && podGone) {
          rec.releasedAt = this.now();
          changed = true;
          this.warned.add(name);
          log({ level: 'warn', msg: 'lent NIC lost with its pod', nic: name, pod: describeHolder(rec), netns: rec.netns, note: 'the pod network namespace is gone and the NIC is not back in the host namespace: a virtual NIC (veth) is destroyed with the namespace; a physical NIC returns to the root network namespace' });
        } else if (!link || (this.now() - rec.lentAt < grace && !podGone)) continue;
      }
      if (!link) {
        report.waiting.push(name);
        if (!this.warned.has(name)) {
          this.warned.add(name);
          log({ level: 'warn', msg: 'released NIC is not back in the host namespace; it is restored when it appears', nic: name, pod: describeHolder(rec) });
        }
        continue;
      }
      if (link.name !== name && links.some((l) => l !== link && l.name === name)) {
        log({ level: 'error', msg: 'cannot restore a returned NIC: another link has its name', nic: name, found: link.name });
        continue;
      }
      const ops = restoreOps(rec, link);
      try {
        if (ops.length) await this.opts.hostNet.apply(ops);
      } catch (e) {
        log({ level: 'error', msg: 'failed to restore a returned NIC; retrying on the next scan', nic: name, found: link.name, error: (e as Error).message });
        continue;
      }
      this.records = this.records.filter((r) => r !== rec);
      this.warned.delete(name);
      changed = true;
      report.restored.push(name);
      log({ level: 'info', msg: 'NIC returned to the host', nic: name, from: describeHolder(rec), ...(link.name !== name ? { foundAs: link.name } : {}), restored: ops.map((o) => o.op) });
    }
    if (changed) {
      try {
        await this.persist();
      } catch (e) {
        log({ level: 'error', msg: 'failed to record returned NICs', error: (e as Error).message });
      }
    }
    return report;
  }

  /** Writes the current records; writes are serialised (one temp file), each sees the latest state. */
  private persist(): Promise<void> {
    const next = this.writes.then(() => this.write());
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async write(): Promise<void> {
    const path = this.opts.path;
    const fsync = this.opts.fsync ?? true;
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const body: LendingFile = { apiVersion: 'v1', kind: 'LentNics', lent: this.records };
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(body, null, 2)}\n`);
      if (fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    if (fsync) {
      const dir = await open(dirname(path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
  }
}

function validRecord(r: unknown): r is LentNic {
  const o = r as Partial<LentNic> | null;
  return (
    typeof o === 'object' && o !== null &&
    typeof o.nic?.interfaceName === 'string' && Array.isArray(o.addresses) && o.addresses.every((a) => typeof a === 'string') &&
    typeof o.holder?.network === 'string' && typeof o.holder.containerID === 'string' && typeof o.holder.ifName === 'string' &&
    typeof o.podInterface === 'string' && typeof o.lentAt === 'number'
  );
}
