// The node prober: reads back from the kernel and the disk what the agent's work should have left
// there (routes, rules, shims, links, sysctls, CNI executables, the IPAM journal, pod interfaces)
// into a ProbeSnapshot; src/lib/diagnostics/node.ts turns it into the published NodeDiagnostics.
// Read-only, except one request the kernel refuses (the link-kind support test, see kernelSupports).
// Cost per probe: 5 `ip` processes for the host, file reads, one process reading every pod netns
// it reads (at most `maxPodsPerProbe`, round robin; the others keep their last view), and the
// multi-nic VERSION call only when that file changed.
import { constants as fsc } from 'node:fs';
import { access, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IpAddrLink } from '../lib/agent/discovery.js';
import type { IpRule, IpTableRoute } from '../lib/agent/route-diff.js';
import { parseRtTables } from '../lib/agent/rt-tables.js';
import type { Allocation } from '../lib/ipam/types.js';
import {
  CNI_EXECUTABLE,
  KERNEL_LINK_KINDS,
  SAFE_PLUGIN_NAME,
  validNetnsPath,
  buildNodeDiagnostics,
  neededBinaries,
  nicsToProbe,
  sysctlKey,
  sysctlsToRead,
  type BinaryFacts,
  type JournalFacts,
  type NetworkInput,
  type PodNetnsView,
  type ProbeSnapshot,
  type SysctlPath,
} from '../lib/diagnostics/node.js';
import type { NodeDiagnostics, RepairRecord } from '../lib/diagnostics/types.js';
import { CommandError, frameMark, ipAnswer, ipJsonMany, readFrames, run, type NetnsRef } from '../host/exec.js';
import { netnsState } from './lending.js';
import { isHealthHolder } from '../lib/diagnostics/health.js';

export const DEFAULT_CNI_BIN_DIR = '/opt/cni/bin';

/** The IPAM as the prober reads it: allocations, and the store's stats when it has them. */
export interface ProbedIpam {
  list(): Allocation[];
  stats?(): { journalBytes: number; allocations: number; recovery: { discardedBytes: number; discardedReason?: string } };
}

export interface NodeProberOptions {
  hostName: string;
  agentVersion: string;
  networks: () => readonly NetworkInput[];
  /** Names of the NICs discovery reports now. */
  discovered: () => readonly string[];
  /** NICs lent to pods (host-device): name → namespace/name of the pod. */
  lent?: () => Readonly<Record<string, string>>;
  ipam: ProbedIpam;
  /** The pod netns path of a container, when the agent saw it at ADD (src/agent/pod-netns.ts). */
  podNetns: (containerID: string) => string | undefined;
  repairs: () => readonly RepairRecord[];
  rtTablesPath: string;
  /** The host CNI bin dir(s), searched in order (a CNI_PATH-like list). */
  cniBinDirs: readonly string[];
  /** Where the agent's own kernel is (tests: a named netns; the agent runs inside its node's). */
  netns?: NetnsRef;
  maxPodsPerProbe?: number;
  /**
   * Why pod network namespaces are not read (src/lib/agent/capabilities.ts podNetnsDenied), or
   * undefined to read them. When set, no `nsenter` is spawned and each allocation is reported
   * `unknown` with this reason (doctor does not count it as a failure).
   */
  podNetnsDenied?: string;
  log?: (event: Record<string, unknown>) => void;
}

interface CachedVersion {
  key: string;
  version?: string;
  supportedVersions?: string[];
  error?: string;
}

/** Reads the node; one probe at a time (a probe asked for during one shares its result). */
export class NodeProber {
  private running: Promise<NodeDiagnostics> | undefined;
  private versionCache = new Map<string, CachedVersion>();
  private kernelCache: { at: number; support: Record<string, boolean | undefined> } | undefined;
  private readonly podViews = new Map<string, PodNetnsView | 'gone' | { error: string }>();
  private podCursor = 0;

  constructor(private readonly o: NodeProberOptions) {}

  /** Probes now (joins a probe already running only when `fresh` is false). */
  probe(opts: { nonce?: string; fresh?: boolean } = {}): Promise<NodeDiagnostics> {
    if (this.running && !opts.fresh) return this.running;
    const prev = this.running ?? Promise.resolve(undefined);
    const next = prev.catch(() => undefined).then(() => this.once(opts.nonce));
    this.running = next;
    void next.finally(() => {
      if (this.running === next) this.running = undefined;
    }).catch(() => undefined);
    return next;
  }

  private async once(nonce: string | undefined): Promise<NodeDiagnostics> {
    return buildNodeDiagnostics(await this.snapshot(nonce));
  }

  /** Everything the diagnostics are built from, read now. */
  async snapshot(nonce?: string): Promise<ProbeSnapshot> {
    const errors: string[] = [];
    const soft = <T>(what: string, p: Promise<T>, fallback: T): Promise<T> =>
      p.catch((e: Error) => {
        errors.push(`failed to read ${what}: ${e.message}`);
        return fallback;
      });
    // Repairs first: a repair is logged after its kernel operation, so a snapshot that lists one read
    // the kernel after it (read last, a repair made during the reads sat beside its route as missing).
    const repairs = this.o.repairs();
    const networks = this.o.networks();
    const observedAt = new Date().toISOString();
    const discovered = this.o.discovered();
    const lent = this.o.lent?.() ?? {};
    // The health check's test address (src/agent/health.ts) lives for one attachment; it is no pod's.
    const allocations = this.o.ipam.list().filter((a) => !isHealthHolder(a));
    // The host's links, rules and routes from one process (ipJsonMany), each read failing alone.
    const host = ipJsonMany([['-d', 'addr', 'show'], ['-4', 'rule', 'show'], ['-6', 'rule', 'show'], ['-4', 'route', 'show', 'table', 'all'], ['-6', 'route', 'show', 'table', 'all']], this.o.netns);
    const hostRead = <T>(...at: number[]): Promise<T[]> => host.then((r) => at.flatMap((i) => ipAnswer(r[i]!) as T[]));
    const linksRead = soft('links (ip -json -d addr show)', hostRead<IpAddrLink>(0), []);
    // The sysctls are per NIC, and which NICs to report depends on the links' addresses.
    const sysctlsRead = linksRead.then((l) => this.readSysctls(sysctlsToRead(nicsToProbe(networks, this.o.hostName, discovered, Object.keys(lent), l))));
    const [links, rules, routes, tableIds, sysctls, binaries, kernelSupport] = await Promise.all([
      linksRead,
      soft('policy rules', hostRead<IpRule>(1, 2), []),
      soft('routes', hostRead<IpTableRoute>(3, 4), []),
      soft(`routing tables (${this.o.rtTablesPath})`, readFile(this.o.rtTablesPath, 'utf8').then((t) => Object.fromEntries(parseRtTables(t).map((e) => [e.name, e.id]))), {} as Record<string, number>),
      sysctlsRead,
      this.readBinaries(networks),
      this.kernelSupport(networks),
      this.readPods(allocations),
    ]);
    return {
      hostName: this.o.hostName,
      agentVersion: this.o.agentVersion,
      observedAt,
      ...(nonce ? { nonce } : {}),
      networks,
      links,
      rules,
      routes,
      tableIds,
      sysctls,
      discovered,
      lent,
      binaries,
      kernelSupport,
      journal: this.journalFacts(allocations),
      allocations,
      pods: this.podViews,
      repairs,
      errors,
    };
  }

  private journalFacts(allocations: readonly Allocation[]): JournalFacts {
    const s = this.o.ipam.stats?.();
    if (!s) return { allocations: allocations.length };
    return {
      allocations: allocations.length,
      sizeBytes: s.journalBytes,
      ...(s.recovery.discardedBytes ? { discardedBytes: s.recovery.discardedBytes, ...(s.recovery.discardedReason ? { discardedReason: s.recovery.discardedReason } : {}) } : {}),
    };
  }

  private async readSysctls(paths: SysctlPath[]): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    await Promise.all(
      paths.map(async (p) => {
        const file = `/proc/sys/${p.join('/')}`;
        try {
          // /proc/sys/net is per network namespace: a test's netns is read by a process inside it.
          out[sysctlKey(p)] = this.o.netns ? (await run('cat', [file], { netns: this.o.netns })).stdout.trim() : (await readFile(file, 'utf8')).trim();
        } catch {
          out[sysctlKey(p)] = undefined;
        }
      }),
    );
    return out;
  }

  private async readBinaries(networks: readonly NetworkInput[]): Promise<BinaryFacts[]> {
    const { binaries } = neededBinaries(networks);
    return Promise.all(binaries.map((b) => this.binaryFacts(b.name)));
  }

  private async binaryFacts(name: string): Promise<BinaryFacts> {
    if (!SAFE_PLUGIN_NAME.test(name)) return { name, path: '', present: false, executable: false };
    const dirs = this.o.cniBinDirs.length ? this.o.cniBinDirs : [DEFAULT_CNI_BIN_DIR];
    for (const dir of dirs) {
      const path = join(dir, name);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) continue;
      const executable = await access(path, fsc.X_OK).then(() => true, () => false);
      const facts: BinaryFacts = { name, path, present: true, executable };
      if (name === CNI_EXECUTABLE && executable) {
        const v = await this.cniVersion(path, `${st.ino}:${st.size}:${st.mtimeMs}`);
        if (v.version) facts.version = v.version;
        if (v.supportedVersions) facts.supportedVersions = v.supportedVersions;
        if (v.error) facts.error = v.error;
      }
      return facts;
    }
    return { name, path: join(dirs[0]!, name), present: false, executable: false };
  }

  /** The executable's VERSION answer, cached until the file changes (it is a Node binary: ~100 ms a call). */
  private async cniVersion(path: string, key: string): Promise<CachedVersion> {
    const hit = this.versionCache.get(path);
    if (hit?.key === key) return hit;
    const out: CachedVersion = { key };
    try {
      const { stdout } = await run(path, [], { env: { CNI_COMMAND: 'VERSION', PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, input: '{"cniVersion":"1.0.0"}', timeoutMs: 5000 });
      const v = JSON.parse(stdout) as { supportedVersions?: unknown; version?: unknown; pluginVersion?: unknown };
      if (Array.isArray(v.supportedVersions)) out.supportedVersions = v.supportedVersions.filter((x): x is string => typeof x === 'string');
      // The CNI spec's VERSION answer names spec versions only; a plugin version is ours when it tells.
      const pv = typeof v.version === 'string' ? v.version : typeof v.pluginVersion === 'string' ? v.pluginVersion : undefined;
      if (pv) out.version = pv;
    } catch (e) {
      out.error = `VERSION failed: ${e instanceof CommandError ? e.stderr.trim() || e.stdout.trim() || `exit code ${e.code}` : (e as Error).message}`;
    }
    this.versionCache.set(path, out);
    return out;
  }

  /**
   * Whether the kernel has the link kinds the networks' delegates create. Read-only in effect: asks
   * to create a link of that kind with no parent, which the kernel refuses with EINVAL when it knows
   * the kind and with "Unknown device type" when it does not (built-in drivers leave no trace in
   * /sys/module, so the module list cannot tell). Cached 10 minutes.
   */
  private async kernelSupport(networks: readonly NetworkInput[]): Promise<Record<string, boolean | undefined>> {
    const kinds = neededBinaries(networks).binaries.map((b) => b.name).filter((n) => KERNEL_LINK_KINDS.includes(n));
    const now = Date.now();
    if (this.kernelCache && now - this.kernelCache.at < 600_000 && kinds.every((k) => k in this.kernelCache!.support)) return this.kernelCache.support;
    const support: Record<string, boolean | undefined> = {};
    for (const kind of kinds) support[kind] = await kernelSupports(kind, this.o.netns);
    this.kernelCache = { at: now, support };
    return support;
  }

  /** Reads up to maxPodsPerProbe pod netns (round robin); the others keep their last view. */
  private async readPods(allocations: readonly Allocation[]): Promise<void> {
    const ids = [...new Set(allocations.map((a) => a.containerID))].sort();
    for (const k of [...this.podViews.keys()]) if (!ids.includes(k)) this.podViews.delete(k);
    const max = this.o.maxPodsPerProbe ?? 32;
    const pick = ids.length <= max ? ids : Array.from({ length: max }, (_, i) => ids[(this.podCursor + i) % ids.length]!);
    this.podCursor = ids.length ? (this.podCursor + pick.length) % ids.length : 0;
    const v6 = new Set(allocations.filter((a) => a.address.includes(':')).map((a) => a.containerID));
    const read: Array<{ id: string; path: string }> = [];
    for (const id of pick) {
      const path = this.o.podNetns(id);
      if (!path) {
        this.podViews.delete(id);
        continue;
      }
      if (this.o.podNetnsDenied) {
        const seen = netnsState(path);
        this.podViews.set(id, seen === 'gone' ? 'gone' : { error: seen === 'present' ? this.o.podNetnsDenied : unseenNetns(path) });
        continue;
      }
      read.push({ id, path });
    }
    const views = await readPodNetnsMany(read.map((r) => ({ path: r.path, ipv6: v6.has(r.id) })));
    read.forEach((r, i) => this.podViews.set(r.id, views[i]!));
  }
}

/**
 * Cap on one `ip -json` read of a pod netns. A pod's netns is the pod's to fill (thousands of
 * addresses or routes), and the prober reads four at a time: an ordinary pod prints a few KiB.
 */
export const POD_NETNS_MAX_BYTES = 1024 * 1024;

/** Why a pod netns path the agent cannot see is neither present nor gone (lending.ts netnsState). */
const unseenNetns = (path: string) => `cannot tell whether the pod netns ${path} exists: the agent sees pod namespaces only in /run/netns (a /proc/<pid> path may be in a PID namespace it does not share)`;

type PodNetnsRead = PodNetnsView | 'gone' | { error: string };

/** One pod netns: links with addresses and the main-table routes (readPodNetnsMany of one). */
export async function readPodNetns(path: string, ipv6: boolean): Promise<PodNetnsRead> {
  return (await readPodNetnsMany([{ path, ipv6 }]))[0]!;
}

// Per pod: `ip -json -batch` of its addresses and main-table routes (and `ip -json -6 route` for
// IPv6) inside the pod netns, stdout and stderr together, cut at the cap by head, then END with
// the exit code. The paths are argv (validated at the socket), never part of the script.
const PODS_SCRIPT = `m=$1; cap=$2; shift 2
for a do
  v=\${a%%:*}; p=\${a#*:}
  printf '\\n%s BEGIN\\n' "$m"
  { nsenter --net="$p" -- ip -json -batch - <<'EOF'
addr show
route show table main
EOF
    r=$?
    if [ "$r" = 0 ] && [ "$v" = 6 ]; then nsenter --net="$p" -- ip -json -6 route show table main; r=$?; fi
    printf '\\n%s END %s\\n' "$m" "$r"
  } 2>&1 | head -c "$cap"
done
`;

/**
 * Pod netns views in order, read by one process for all of them: a `spawn()` from the agent costs
 * its event loop ~10 ms (it forks a process of ~90 MB), so one per pod made a probe of 32 pods a
 * third of a second, and under pod churn the agent spent a third of its time there. A pod whose
 * output passes POD_NETNS_MAX_BYTES gets an error naming the cap; the others are unaffected.
 */
export async function readPodNetnsMany(pods: ReadonlyArray<{ path: string; ipv6: boolean }>): Promise<PodNetnsRead[]> {
  const out: PodNetnsRead[] = pods.map(() => 'gone');
  const todo: number[] = [];
  pods.forEach((p, i) => {
    const seen = netnsState(p.path);
    if (seen === 'unknown') out[i] = { error: unseenNetns(p.path) };
    else if (seen !== 'gone') todo.push(i);
  });
  if (todo.length === 0) return out;
  const mark = frameMark('mnpods');
  const cap = POD_NETNS_MAX_BYTES + mark.length + 16;
  const argv = [mark, String(cap), ...todo.map((i) => `${pods[i]!.ipv6 ? 6 : 4}:${pods[i]!.path}`)];
  let stdout: string;
  try {
    ({ stdout } = await run('sh', ['-c', PODS_SCRIPT, 'sh', ...argv], { timeoutMs: 5000 + 250 * todo.length, maxBytes: todo.length * (cap + mark.length + 16) + 4096 }));
  } catch (e) {
    for (const i of todo) out[i] = netnsState(pods[i]!.path) === 'gone' ? 'gone' : { error: `cannot read the pod netns ${pods[i]!.path}: ${(e as Error).message}` };
    return out;
  }
  const frames = readFrames(stdout, mark);
  todo.forEach((i, k) => {
    const { path, ipv6 } = pods[i]!;
    const fail = (why: string): PodNetnsRead => (netnsState(path) === 'gone' ? 'gone' : { error: `cannot read the pod netns ${path}: ${why}` });
    const frame = frames[k];
    if (frame === undefined) {
      out[i] = fail('no answer from its reader');
      return;
    }
    const { body, code } = frame;
    if (code === undefined) {
      out[i] = fail(Buffer.byteLength(body) >= POD_NETNS_MAX_BYTES ? `ip -json printed more than ${POD_NETNS_MAX_BYTES} bytes; stopped reading it (the cap keeps an unbounded output out of memory)` : 'its reader stopped before the end');
      return;
    }
    if (code !== '0') {
      out[i] = fail(`ip -json: ${body.trim() || `exit code ${code}`}`);
      return;
    }
    type Route = { dst?: string; dev?: string; gateway?: string };
    try {
      const parts = body.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => JSON.parse(l) as unknown[]);
      const addrs = (parts[0] ?? []) as Array<{ ifname: string; addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
      const routes = [...((parts[1] ?? []) as Route[]), ...((ipv6 ? (parts[2] ?? []) : []) as Route[])];
      out[i] = {
        links: addrs.map((l) => ({ ifname: l.ifname, addrs: (l.addr_info ?? []).filter((a) => a.local).map((a) => `${a.local}/${a.prefixlen}`) })),
        routes: routes.map((r) => ({ ...(r.dst ? { dst: r.dst } : {}), ...(r.dev ? { dev: r.dev } : {}), ...(r.gateway ? { gateway: r.gateway } : {}) })),
      };
    } catch (e) {
      out[i] = fail(`ip -json printed what is not JSON: ${(e as Error).message}`);
    }
  });
  return out;
}

/** See NodeProber.kernelSupport. undefined when the answer is neither of the two known refusals. */
export async function kernelSupports(kind: string, netns?: NetnsRef): Promise<boolean | undefined> {
  const name = `mnkprobe${process.pid % 100000}`;
  try {
    await run('ip', ['link', 'add', name, 'type', kind], { netns, timeoutMs: 5000 });
    // Accepted after all (a kernel that allows it without a parent): remove it at once.
    await run('ip', ['link', 'del', name], { netns }).catch(() => undefined);
    return true;
  } catch (e) {
    const msg = e instanceof CommandError ? e.stderr : (e as Error).message;
    if (/Unknown device type|not supported/i.test(msg)) return false;
    if (/Invalid argument|required|No such device/i.test(msg)) return true;
    return undefined;
  }
}

/**
 * Pod netns paths by container ID, as the CNI sent them at ADD, kept in a small file in the data dir
 * so an agent restart still knows where its pods are. Paths were validated at the socket.
 */
export class PodNetnsRegistry {
  private readonly map = new Map<string, string>();
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file?: string) {}

  async load(): Promise<this> {
    if (!this.file) return this;
    const text = await readFile(this.file, 'utf8').catch(() => undefined);
    if (!text) return this;
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      for (const [k, v] of Object.entries(o)) if (typeof v === 'string' && validNetnsPath(v)) this.map.set(k, v);
    } catch {
      // unreadable: rebuilt from the next ADDs
    }
    return this;
  }

  get(containerID: string): string | undefined {
    return this.map.get(containerID);
  }

  set(containerID: string, path: string): void {
    if (!validNetnsPath(path) || this.map.get(containerID) === path) return;
    this.map.set(containerID, path);
    this.dirty = true;
  }

  delete(containerID: string): void {
    if (this.map.delete(containerID)) this.dirty = true;
  }

  /** Drops containers no longer holding addresses and writes the file when it changed. */
  async flush(keep: ReadonlySet<string>): Promise<void> {
    for (const k of [...this.map.keys()]) if (!keep.has(k)) this.delete(k);
    if (!this.dirty || !this.file) return;
    this.dirty = false;
    const file = this.file;
    const text = `${JSON.stringify(Object.fromEntries([...this.map].sort(([a], [b]) => (a < b ? -1 : 1))), null, 1)}\n`;
    this.writing = this.writing.then(async () => {
      await mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, file);
    }).catch(() => {
      this.dirty = true;
    });
    await this.writing;
  }
}
