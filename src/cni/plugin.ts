// The multi-nic plugin's verbs (ADD, DEL, CHECK, STATUS, GC) over three ports: the agent client,
// the delegate runner and the pod-netns reader. src/cni/main.ts wires the real ones.
import { DEFAULT_AGENT_SOCKET, type AllocatedNic, type PodRef } from '../lib/agent/protocol.js';
import { parseCniArgs, parseNetConf, type NetConf } from '../lib/cni/config.js';
import { checkAllocatedNics, checkAnswerPlugin, checkIfName, delegateConfig, podInterfaceName } from '../lib/cni/delegate.js';
import { CniCode, CniError } from '../lib/cni/errors.js';
import { formatResult, mergeResults, nicRoutes, parseResult, sliceForNic, type CniResult } from '../lib/cni/result.js';
import { AgentRequestError, AgentUnavailableError, type AgentClient } from './agent-client.js';
import { DelegateError, type InvokeOptions, type InvokePlugin } from './plugin-exec.js';
import type { CmdArgs, CniHandlers } from './skel.js';

/** What CHECK reads back from the pod's netns (`ip -json addr` / `ip -json route`, trimmed). */
export interface NetnsState {
  links: Array<{ ifname: string; addrs: string[] }>;
  routes: Array<{ dst: string; gw?: string; dev?: string }>;
}

export interface PluginDeps {
  /** The agent client for a socket path. */
  agent(socketPath: string): AgentClient;
  invoke: InvokePlugin;
  /** Reads links, addresses and routes in a netns path; undefined when the netns does not exist. */
  readNetns(netns: string): Promise<NetnsState | undefined>;
  netnsExists(netns: string): boolean;
  /** Deletes a link in a netns path; resolves when the netns or the link is already gone. */
  deleteLink(netns: string, ifName: string): Promise<void>;
  /** Diagnostics for the runtime's log (stderr); never the result channel. */
  log(msg: string): void;
  /** Run per-NIC delegates concurrently (default true). */
  parallel?: boolean;
  /**
   * How long DEL waits for an agent that is away (socket missing or refusing: restarting, e.g. in
   * a rolling upgrade) before it goes on without it (default DEFAULT_AGENT_WAIT_MS).
   */
  agentWaitMs?: () => number;
}

/**
 * DEL's wait for an away agent. A rolling upgrade leaves a node's socket missing for the seconds
 * between the old agent's exit and the new one's first reconcile; a DEL that went on without the
 * agent there would leave the pod's addresses to the leak GC (a minute or more). Past this, DEL
 * goes on without it, as when the agent is gone for good.
 */
export const DEFAULT_AGENT_WAIT_MS = 10_000;

/** Delegates that move a whole host NIC (or VF) into the pod rather than create a link on it. */
const LENT_WHOLE = new Set(['host-device', 'sriov']);

/**
 * macvlan with multi-NIC IPAM: DEL (and the undo of an ADD) runs the delegate without static
 * IPAM, whose DEL does nothing: one exec per NIC instead of two.
 */
const linkOnlyDel = (conf: NetConf): { noStaticIpam?: boolean } => (conf.plugin.type === 'macvlan' && conf.multiNicIpam ? { noStaticIpam: true } : {});

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;

function socketFor(conf: NetConf, env: CmdArgs['env']): string {
  return conf.agentSocket ?? env['MULTINIC_AGENT_SOCKET'] ?? DEFAULT_AGENT_SOCKET;
}

function podRef(a: CmdArgs): PodRef {
  const k = parseCniArgs(a.args);
  const ref: PodRef = { namespace: k.namespace, name: k.name, uid: k.uid, containerID: a.containerID, ifName: a.ifName };
  if (a.netns) ref.netns = a.netns;
  return ref;
}

const AGENT_CODES: Record<string, number> = {
  InvalidRequest: CniCode.InvalidNetConf,
  UnknownNetwork: CniCode.UnknownNetwork,
  NotReady: CniCode.TryAgainLater,
  NoMatchingNic: CniCode.NoMatchingNic,
  UnknownDeviceClass: CniCode.UnknownDeviceClass,
  PoolExhausted: CniCode.PoolExhausted,
  NotFound: CniCode.UnknownContainer,
  Internal: CniCode.AgentFailed,
};

/**
 * Lookup answers under which DEL goes on without the agent's record: no record, a network the
 * agent does not know (deleted) or cannot serve (refused, not planned). DEL must still succeed
 * (CNI spec: DEL of something half gone is not an error), and release works without the network.
 */
const NO_RECORD = new Set(['NotFound', 'UnknownNetwork', 'NotReady']);

/** Maps an agent failure onto a CNI error; unreachable is transient (11: the runtime retries). */
function agentError(err: unknown, verb: string): CniError {
  if (err instanceof AgentUnavailableError) return new CniError(CniCode.TryAgainLater, `failed to ${verb}: ${err.message}`);
  if (err instanceof AgentRequestError) {
    return new CniError(AGENT_CODES[err.body.code] ?? CniCode.AgentFailed, `failed to ${verb}: agent: ${err.body.message}`, err.body.hint);
  }
  return new CniError(CniCode.AgentFailed, `failed to ${verb}: ${(err as Error).message}`);
}

function ifNameOf(a: CmdArgs, nic: AllocatedNic): string {
  return nic.podInterface || podInterfaceName(a.ifName, nic.index);
}

function invokeOpts(a: CmdArgs, command: InvokeOptions['command'], ifName: string): InvokeOptions {
  return { command, containerID: a.containerID, netns: a.netns, ifName, args: a.args, cniPath: a.path };
}

function delegateMessage(err: unknown): string {
  if (err instanceof DelegateError || err instanceof CniError) return err.message;
  return (err as Error).message ?? String(err);
}

/** Runs `fn` over items in order, concurrently or one at a time; settles every one. */
async function each<T, R>(items: T[], parallel: boolean, fn: (t: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  if (parallel) return Promise.allSettled(items.map(fn));
  const out: PromiseSettledResult<R>[] = [];
  for (const t of items) {
    try {
      out.push({ status: 'fulfilled', value: await fn(t) });
    } catch (reason) {
      out.push({ status: 'rejected', reason });
    }
  }
  return out;
}

/**
 * DELs delegates in reverse order; returns the NICs whose DEL failed, with the reason. DEL stays
 * idempotent whatever the delegate does (CNI spec: DEL must succeed when things are already gone):
 * - the pod netns path no longer exists (the sandbox is gone, the runtime still passes its path):
 *   delegates get an empty CNI_NETNS, which the reference plugins answer by releasing their IPAM
 *   only (host-device would fail "failed to open netns" on every retry, and the kernel has already
 *   given a physical NIC back to the host);
 * - a host-device / SR-IOV NIC is no longer in the pod (an earlier DEL gave it back): there is
 *   nothing to return, and host-device would fail "Link not found".
 * In both cases host-device does no IPAM DEL (it releases its IPAM only with a netns and the
 * link in it), so a passed-through single-NIC IPAM (host-local) gets its own DEL from here.
 */
async function delDelegates(deps: PluginDeps, a: CmdArgs, conf: NetConf, nics: AllocatedNic[], prev?: CniResult): Promise<string[]> {
  const failures: string[] = [];
  const netnsGone = a.netns !== '' && !deps.netnsExists(a.netns);
  if (netnsGone) deps.log(`multi-nic DEL ${a.containerID}/${a.ifName}: network namespace ${a.netns} is gone; delegates release what they hold without it`);
  let podLinks: Set<string> | undefined;
  if (!netnsGone && a.netns && LENT_WHOLE.has(conf.plugin.type)) {
    const st = await deps.readNetns(a.netns).catch(() => undefined);
    if (st) podLinks = new Set(st.links.map((l) => l.ifname));
  }
  const lentWhole = LENT_WHOLE.has(conf.plugin.type);
  for (const nic of [...nics].reverse()) {
    const ifName = ifNameOf(a, nic);
    const what = `NIC ${nic.index + 1} (${nic.master || '?'} -> ${ifName})`;
    const gone = podLinks !== undefined && !podLinks.has(ifName);
    if (gone) {
      deps.log(`multi-nic DEL ${a.containerID}/${a.ifName}: ${ifName} is no longer in the pod (already given back); nothing for ${conf.plugin.type} to do`);
    } else {
      const slice = prev ? sliceForNic(prev, ifName, nicRoutes(nic)) : undefined;
      try {
        await deps.invoke(conf.plugin.type, delegateConfig(conf, nic, slice, linkOnlyDel(conf)), { ...invokeOpts(a, 'DEL', ifName), ...(netnsGone ? { netns: '' } : {}) });
      } catch (err) {
        failures.push(`${what}: ${delegateMessage(err)}`);
        continue;
      }
    }
    if (lentWhole && (gone || netnsGone) && !conf.multiNicIpam) {
      try {
        await deps.invoke(conf.ipam.type, { cniVersion: conf.cniVersion, name: conf.name, ipam: conf.ipam }, { ...invokeOpts(a, 'DEL', ifName), netns: netnsGone ? '' : a.netns });
      } catch (err) {
        failures.push(`${what}: ${conf.ipam.type}: ${delegateMessage(err)}`);
      }
    }
  }
  return failures;
}

/**
 * ADD: the agent selects the NICs and allocates every address (all-or-nothing), one delegate ADD
 * per NIC, one merged result; any failure undoes every NIC and releases the addresses.
 */
export async function cmdAdd(deps: PluginDeps, a: CmdArgs): Promise<Record<string, unknown>> {
  const conf = parseNetConf(a.stdinData);
  const pod = podRef(a);
  checkIfName(a.ifName, 1);
  if (!deps.netnsExists(a.netns)) {
    throw new CniError(CniCode.UnknownContainer, `network namespace ${a.netns} does not exist`, 'the container is gone or CNI_NETNS is wrong');
  }
  const agent = deps.agent(socketFor(conf, a.env));
  const key = { apiVersion: 'v1' as const, network: conf.name, pod };
  let resp;
  try {
    resp = await agent.allocate({ ...key, args: conf.selection, ...(conf.deviceIDs ? { deviceIDs: conf.deviceIDs } : {}) });
  } catch (err) {
    throw agentError(err, `allocate addresses for network "${conf.name}"`);
  }
  const nics = [...resp.nics].sort((x, y) => x.index - y.index);

  const release = async (): Promise<string> => {
    try {
      const r = await agent.release(key);
      return plural(r.released, 'address');
    } catch (err) {
      return `addresses not released (${(err as Error).message}; the agent reconciles them)`;
    }
  };

  try {
    if (nics.length === 0) throw new CniError(CniCode.NoMatchingNic, `agent selected no NIC for network "${conf.name}"`, 'check the pod\'s cni-args (nics, masters, class) and `kubectl multinic status`');
    checkIfName(a.ifName, nics.length);
    checkAllocatedNics(a.ifName, nics);
    checkAnswerPlugin(conf, resp);
  } catch (err) {
    const released = await release();
    if (err instanceof CniError) throw new CniError(err.code, `${err.message}; released ${released}`, err.details);
    throw err;
  }

  const settled = await each(nics, deps.parallel ?? true, async (nic) => {
    const out = await deps.invoke(conf.plugin.type, delegateConfig(conf, nic), invokeOpts(a, 'ADD', ifNameOf(a, nic)));
    return parseResult(out ?? {});
  });
  const failedAt = settled.findIndex((s) => s.status === 'rejected');
  const reason: unknown = failedAt < 0 ? undefined : (settled[failedAt] as PromiseRejectedResult).reason;
  if (failedAt < 0) {
    return formatResult(mergeResults(settled.map((s) => (s as PromiseFulfilledResult<CniResult>).value)), conf.cniVersion);
  }

  // Undo (docs/conventions.md §8): remove every NIC's interface, the failed ones included (a delegate may fail
  // after creating its link), then release every address of the attachment.
  const failed = nics[failedAt] as AllocatedNic;
  const undo = await rollback(deps, a, conf, nics, settled.map((x) => x.status === 'fulfilled'));
  const released = await release();
  const rolled = `rolled back ${plural(undo.removed, 'interface')} and ${released}`;
  const leftover = undo.failures.length ? `; could not remove ${undo.failures.join('; ')}` : '';
  throw new CniError(
    CniCode.DelegateFailed,
    `failed to add NIC ${failed.index + 1} (${failed.master} -> ${ifNameOf(a, failed)}) with ${conf.plugin.type}: ${delegateMessage(reason)}; ${rolled}${leftover}`,
    reason instanceof DelegateError && reason.details ? reason.details : undefined,
  );
}

/** Pod interface names present in the netns, or undefined when it cannot be read. */
async function podLinks(deps: PluginDeps, netns: string): Promise<Set<string> | undefined> {
  const st = await deps.readNetns(netns).catch(() => undefined);
  return st ? new Set(st.links.map((l) => l.ifname)) : undefined;
}

/**
 * Undoes a failed ADD's NICs, in reverse: the delegate's DEL for each (also the NICs whose ADD
 * failed), the single-NIC IPAM's own DEL where the delegate's failed, then, for plugins that
 * create the link (macvlan, ipvlan; host-device and sriov move a host device, which must never be
 * deleted), `ip link del` of every pod interface still in the netns. `removed` counts the
 * interfaces that were there before and are gone after; `failures` names what is left.
 * Without a readable netns the delegates' answers decide (an added NIC whose DEL failed is left).
 */
async function rollback(deps: PluginDeps, a: CmdArgs, conf: NetConf, nics: AllocatedNic[], added: boolean[]): Promise<{ removed: number; failures: string[] }> {
  const createsLinks = conf.plugin.type === 'macvlan' || conf.plugin.type === 'ipvlan';
  const before = await podLinks(deps, a.netns);
  const delErr = new Map<number, string>();
  const ipamErr = new Map<number, string>();
  for (const [i, nic] of [...nics.entries()].reverse()) {
    const ifName = ifNameOf(a, nic);
    try {
      await deps.invoke(conf.plugin.type, delegateConfig(conf, nic, undefined, linkOnlyDel(conf)), invokeOpts(a, 'DEL', ifName));
      continue;
    } catch (err) {
      delErr.set(i, delegateMessage(err));
    }
    if (!conf.multiNicIpam) {
      try {
        await deps.invoke(conf.ipam.type, { cniVersion: conf.cniVersion, name: conf.name, ipam: conf.ipam }, invokeOpts(a, 'DEL', ifName));
      } catch (err) {
        ipamErr.set(i, `${conf.ipam.type}: ${delegateMessage(err)}`);
      }
    }
  }
  const linkErr = new Map<number, string>();
  let after = before ? await podLinks(deps, a.netns) : undefined;
  if (createsLinks && after) {
    for (const [i, nic] of [...nics.entries()].reverse()) {
      const ifName = ifNameOf(a, nic);
      if (!after.has(ifName)) continue;
      try {
        await deps.deleteLink(a.netns, ifName);
      } catch (err) {
        linkErr.set(i, (err as Error).message);
      }
    }
    after = await podLinks(deps, a.netns);
  }
  let removed = 0;
  const failures: string[] = [];
  for (const [i, nic] of [...nics.entries()].reverse()) {
    const ifName = ifNameOf(a, nic);
    const had = before ? before.has(ifName) : added[i] === true;
    const left = after ? after.has(ifName) : had && delErr.has(i);
    const why = [delErr.get(i), linkErr.get(i), ipamErr.get(i)].filter((x): x is string => x !== undefined);
    if (left || ipamErr.has(i)) failures.push(`NIC ${nic.index + 1} (${nic.master || '?'} -> ${ifName}): ${why.join('; ') || 'still present'}`);
    else if (why.length > 0) deps.log(`multi-nic ADD ${a.containerID}/${a.ifName}: rollback of ${ifName}: delegate DEL failed (${why.join('; ')}); ${had ? 'its link was deleted by name' : 'it had no link'}`);
    if (had && !left) removed++;
  }
  return { removed, failures };
}

/** NICs of an attachment when the agent has no record: from prevResult, else from the netns. */
async function nicsWithoutAgent(deps: PluginDeps, a: CmdArgs, prev: CniResult | undefined): Promise<AllocatedNic[]> {
  const re = new RegExp(`^${a.ifName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`);
  let names: string[] = [];
  if (prev) names = prev.interfaces.map((i) => i.name).filter((n) => re.test(n));
  else if (a.netns) {
    const st = await deps.readNetns(a.netns).catch(() => undefined);
    names = (st?.links ?? []).map((l) => l.ifname).filter((n) => re.test(n));
  }
  return names.map((name) => {
    const index = Number(re.exec(name)?.[1]);
    const idx = prev?.interfaces.findIndex((i) => i.name === name) ?? -1;
    const address = prev?.ips.find((ip) => ip.interface === idx)?.address ?? '';
    return { index, podInterface: name, master: '', netAddress: '', address, routes: [], vlanCIDR: '', podCIDR: '', pool: '' };
  }).sort((x, y) => x.index - y.index);
}

/**
 * DEL when the agent has no record (or is down): the host NIC behind each pod interface is
 * unknown, and macvlan/ipvlan refuse to load a config whose master is absent, so the pod-side
 * links are deleted directly and a passed-through IPAM gets its own DEL per interface.
 */
async function delWithoutRecord(deps: PluginDeps, a: CmdArgs, conf: NetConf, nics: AllocatedNic[]): Promise<string[]> {
  if (conf.plugin.type !== 'macvlan' && conf.plugin.type !== 'ipvlan') return delDelegates(deps, a, conf, nics);
  const failures: string[] = [];
  for (const nic of [...nics].reverse()) {
    const ifName = ifNameOf(a, nic);
    try {
      if (a.netns) await deps.deleteLink(a.netns, ifName);
      if (!conf.multiNicIpam) {
        await deps.invoke(conf.ipam.type, { cniVersion: conf.cniVersion, name: conf.name, ipam: conf.ipam }, invokeOpts(a, 'DEL', ifName));
      }
    } catch (err) {
      failures.push(`NIC ${nic.index + 1} (${ifName}): ${delegateMessage(err)}`);
    }
  }
  if (!conf.multiNicIpam && nics.length === 0) {
    deps.log(`multi-nic DEL ${a.containerID}/${a.ifName}: no record of the attachment; ${conf.ipam.type} leases of its interfaces cannot be found`);
  }
  return failures;
}

/**
 * Runs DEL's agent calls, each retried while the agent is away for up to `waitMs` from the moment
 * that call starts: the lookup and the release each get the whole wait, so slow delegates between
 * them (seconds on a loaded node) do not use up the release's. An agent that stayed away for the
 * lookup is not asked again (DEL goes on without it), so DEL waits at most twice in all.
 */
function untilAgentBack(deps: PluginDeps, a: CmdArgs, waitMs: number) {
  let said = false;
  return async <T>(call: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof AgentUnavailableError) || !err.away || Date.now() >= deadline) throw err;
        if (!said) deps.log(`multi-nic DEL ${a.containerID}/${a.ifName}: ${err.message}; waiting up to ${Math.ceil((deadline - Date.now()) / 1000)} s for it to come back`);
        said = true;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
}

/**
 * DEL: idempotent; the agent's record names the NICs, else prevResult or the netns does. An agent
 * that is away is waited for (DEFAULT_AGENT_WAIT_MS per agent call) before DEL goes on without it.
 */
export async function cmdDel(deps: PluginDeps, a: CmdArgs): Promise<void> {
  const conf = parseNetConf(a.stdinData);
  const pod = podRef(a);
  const client = deps.agent(socketFor(conf, a.env));
  const waiting = untilAgentBack(deps, a, deps.agentWaitMs?.() ?? DEFAULT_AGENT_WAIT_MS);
  const agent = {
    lookup: (k: Parameters<AgentClient['lookup']>[0]) => waiting(() => client.lookup(k)),
    release: (k: Parameters<AgentClient['release']>[0]) => waiting(() => client.release(k)),
  };
  const key = { apiVersion: 'v1' as const, network: conf.name, pod };
  const prev = conf.prevResult ? parseResult(conf.prevResult) : undefined;
  let nics: AllocatedNic[] | undefined;
  let agentDown = false;
  try {
    nics = (await agent.lookup(key)).nics;
    checkAllocatedNics(a.ifName, nics);
  } catch (err) {
    if (err instanceof CniError) throw err;
    if (err instanceof AgentUnavailableError) {
      agentDown = true;
      deps.log(`multi-nic DEL ${a.containerID}/${a.ifName}: ${err.message}; deleting interfaces anyway, the agent releases leaked addresses when it reconciles`);
    } else if (err instanceof AgentRequestError && NO_RECORD.has(err.body.code)) {
      if (err.body.code !== 'NotFound') deps.log(`multi-nic DEL ${a.containerID}/${a.ifName}: agent: ${err.body.message}; deleting the pod's interfaces by name and releasing its addresses`);
    } else {
      throw agentError(err, `look up the attachment of container ${a.containerID} in network "${conf.name}"`);
    }
  }
  const failures = nics ? await delDelegates(deps, a, conf, nics, prev) : await delWithoutRecord(deps, a, conf, await nicsWithoutAgent(deps, a, prev));
  if (failures.length > 0) {
    // Addresses stay allocated while an interface that may hold them could not be removed.
    throw new CniError(CniCode.DelegateFailed, `failed to delete ${failures.join('; ')}`, 'addresses were kept allocated; the runtime retries DEL');
  }
  if (agentDown) return;
  try {
    await agent.release(key);
  } catch (err) {
    if (err instanceof AgentUnavailableError) deps.log(`multi-nic DEL ${a.containerID}/${a.ifName}: ${err.message}; the agent releases the addresses when it reconciles`);
    else throw agentError(err, `release the addresses of container ${a.containerID} in network "${conf.name}"`);
  }
}

/** CHECK: the agent's record against the netns and prevResult, then each delegate's CHECK. */
export async function cmdCheck(deps: PluginDeps, a: CmdArgs): Promise<void> {
  const conf = parseNetConf(a.stdinData);
  if (!conf.prevResult) throw new CniError(CniCode.InvalidNetConf, 'prevResult is required for CHECK', 'the runtime passes the ADD result as prevResult');
  const prev = parseResult(conf.prevResult);
  const pod = podRef(a);
  const agent = deps.agent(socketFor(conf, a.env));
  let nics: AllocatedNic[];
  try {
    nics = (await agent.lookup({ apiVersion: 'v1', network: conf.name, pod })).nics;
    checkAllocatedNics(a.ifName, nics);
  } catch (err) {
    if (err instanceof CniError) throw err;
    throw agentError(err, `look up the attachment of container ${a.containerID} in network "${conf.name}"`);
  }
  const st = await deps.readNetns(a.netns);
  if (!st) throw new CniError(CniCode.UnknownContainer, `network namespace ${a.netns} does not exist`);
  const problems: string[] = [];
  for (const nic of nics) {
    const ifName = ifNameOf(a, nic);
    const link = st.links.find((l) => l.ifname === ifName);
    if (!link) {
      problems.push(`${ifName} is missing`);
      continue;
    }
    if (nic.address && !link.addrs.includes(nic.address)) problems.push(`${ifName} lacks address ${nic.address} (has ${link.addrs.join(', ') || 'none'})`);
    if (nic.address && !prev.ips.some((ip) => ip.address === nic.address)) problems.push(`prevResult lacks ${nic.address} of ${ifName}`);
    for (const r of nicRoutes(nic)) {
      const found = st.routes.some((x) => x.dst === r.dst && (r.gw === undefined || x.gw === r.gw) && (x.dev === undefined || x.dev === ifName));
      if (!found) problems.push(`route ${r.dst}${r.gw ? ` via ${r.gw}` : ''} dev ${ifName} is missing`);
    }
  }
  if (problems.length > 0) throw new CniError(CniCode.CheckFailed, `CHECK failed for container ${a.containerID} in network "${conf.name}": ${problems.join('; ')}`);
  const settled = await each(nics, deps.parallel ?? true, async (nic) => {
    const ifName = ifNameOf(a, nic);
    const slice = sliceForNic(prev, ifName, nicRoutes(nic));
    if (!slice) throw new CniError(CniCode.CheckFailed, `prevResult has no interface ${ifName}`);
    await deps.invoke(conf.plugin.type, delegateConfig(conf, nic, slice), invokeOpts(a, 'CHECK', ifName));
  });
  const bad = settled.flatMap((s, i) => (s.status === 'rejected' ? [`NIC ${(nics[i]?.index ?? i) + 1} (${ifNameOf(a, nics[i] as AllocatedNic)}): ${delegateMessage(s.reason)}`] : []));
  if (bad.length > 0) throw new CniError(CniCode.CheckFailed, `CHECK failed for container ${a.containerID} in network "${conf.name}": ${bad.join('; ')}`);
}

/** STATUS: the plugin is available while the agent answers on its socket. */
export async function cmdStatus(deps: PluginDeps, a: CmdArgs): Promise<void> {
  const conf = parseNetConf(a.stdinData);
  const agent = deps.agent(socketFor(conf, a.env));
  try {
    // Any HTTP answer proves the agent serves (an agent without /v1/healthz answers 404).
    await agent.healthz();
  } catch (err) {
    if (err instanceof AgentUnavailableError) throw new CniError(CniCode.PluginNotAvailable, `plugin not available: ${err.message}`);
    if (!(err instanceof AgentRequestError)) throw err;
  }
}

/**
 * GC (CNI 1.1): the runtime lists the attachments still valid in `cni.dev/valid-attachments`;
 * the agent releases the network's other allocations. A malformed list is refused by
 * parseNetConf (code 7) before anything is released. A missing (or null) list releases nothing:
 * read as "no attachment is valid" it would free every live pod's addresses, and libcni itself
 * sends no list when its caller gives none. That GC succeeds (the spec asks plugins to complete
 * GC without error) and says on stderr why nothing was collected.
 */
export async function cmdGc(deps: PluginDeps, a: CmdArgs): Promise<void> {
  const conf = parseNetConf(a.stdinData);
  if (conf.validAttachments === undefined) {
    deps.log(`multi-nic GC ${conf.name}: the request has no cni.dev/valid-attachments list; nothing collected (a GC must list the attachments still in use, CNI spec 1.1)`);
    return;
  }
  const agent = deps.agent(socketFor(conf, a.env));
  const keep = conf.validAttachments.map((v) => ({ containerID: v.containerID, ifName: v.ifname }));
  try {
    const r = await agent.gc({ apiVersion: 'v1', network: conf.name, keep });
    if (r.released > 0) deps.log(`multi-nic GC ${conf.name}: released ${plural(r.released, 'address')}`);
    if (r.spared) deps.log(`multi-nic GC ${conf.name}: kept ${plural(r.spared, 'address')} of live pods the runtime did not list`);
  } catch (err) {
    if (err instanceof AgentRequestError && err.status === 404 && err.body.code === 'NotFound') {
      deps.log(`multi-nic GC ${conf.name}: agent has no /v1/gc; nothing collected`);
      return;
    }
    throw agentError(err, `collect stale allocations of network "${conf.name}"`);
  }
}

/** The five verbs bound to one set of ports, for skel's dispatch. */
export function createHandlers(deps: PluginDeps): CniHandlers {
  return {
    add: (a) => cmdAdd(deps, a),
    del: (a) => cmdDel(deps, a),
    check: (a) => cmdCheck(deps, a),
    status: (a) => cmdStatus(deps, a),
    gc: (a) => cmdGc(deps, a),
  };
}
