// Judging one test: an explicit registry of small diagnoses (docs/conventions.md §9), tried in order; the first
// that matches names the likely cause and a hint; none matching is a pass. Pure.
import { containsAddr, formatIp, parseIp, tryParseCidr, usableRange } from '../net/ip.js';
import { type Iperf3Outcome, type Iperf3ServerLog, parseIperf3Client, parseIperf3Server } from './iperf3.js';
import { POD_NIC } from './pods.js';
import type { CheckTest, FailureCause, NicEndpoint, PodObservation, TestObservation, TestResult } from './types.js';

export interface DiagnosisContext {
  test: CheckTest;
  obs: TestObservation;
  client: Iperf3Outcome | undefined;
  server: Iperf3ServerLog | undefined;
  tolerance: number;
  namespace: string;
  /** Retries made for busy/refused answers before giving up. */
  maxAttempts: number;
}

export interface Finding {
  summary: string;
  hint?: string;
  evidence?: string[];
}

export interface Diagnosis {
  id: FailureCause;
  title: string;
  match(ctx: DiagnosisContext): Finding | undefined;
}

const gbps = (bps: number): number => Math.round(bps / 1e7) / 100;
const fmt = (g: number): string => g.toFixed(2);
const where = (t: CheckTest): string => `${t.clientHost} -> ${t.serverHost} on nic${t.nicIndex} (${t.clientNic?.interfaceName ?? '?'} -> ${t.serverNic?.interfaceName ?? '?'}, ${t.netAddress})`;
const describe = (ns: string, pod: string): string => `kubectl -n ${ns} describe pod ${pod}`;

function outsideBlock(pod: PodObservation | undefined, nic: NicEndpoint | undefined): string | undefined {
  if (!pod?.address || !nic?.podCIDR) return undefined;
  const block = tryParseCidr(nic.podCIDR);
  if (!block) return undefined;
  try {
    const ip = parseIp(pod.address);
    return containsAddr(block, ip.family, ip.addr) ? undefined : nic.podCIDR;
  } catch {
    return nic.podCIDR;
  }
}

/** The host's shim gateway address on the NIC (first usable of its pod block), when it has one. */
function shimGatewayOf(t: CheckTest, nic: NicEndpoint | undefined): string | undefined {
  if (!t.shimGateway || !nic?.podCIDR) return undefined;
  const block = tryParseCidr(nic.podCIDR);
  return block ? formatIp(block.family, usableRange(block).first) : undefined;
}

function routeHint(t: CheckTest): string {
  const c = t.clientNic;
  const s = t.serverNic;
  if (c?.podCIDR && s?.podCIDR && c.hostIP && s.hostIP) {
    // The table is named after the network in rt_tables; where the name does not resolve, `ip rule`
    // shows its number on the rule for the network's subnet.
    const table = t.subnet ? ` (the table of \`ip rule\` "from ${t.subnet}")` : '';
    return (
      `on host ${t.clientHost}, \`ip route show table ${t.routeTable}\`${table} should hold \`${s.podCIDR} via ${s.hostIP} dev ${c.interfaceName}\`; ` +
      `on host ${t.serverHost} (the way back) \`${c.podCIDR} via ${c.hostIP} dev ${s.interfaceName}\`. ` +
      `The agent restores missing routes; \`kubectl multinic status\` shows per-host route readiness`
    );
  }
  return `check ${t.clientHost} reaches ${t.serverHost} on ${t.netAddress} (${c?.interfaceName ?? '?'} -> ${s?.hostIP ?? '?'}) and that both agents installed their routes (kubectl multinic status)`;
}

const iperfFailed = (ctx: DiagnosisContext, ...kinds: string[]): (Iperf3Outcome & { ok: false }) | undefined =>
  ctx.client && !ctx.client.ok && kinds.includes(ctx.client.kind) ? ctx.client : undefined;

/** The diagnoses, in the order they are tried. */
export const DIAGNOSES: readonly Diagnosis[] = [
  {
    id: 'not-in-cidr',
    title: 'both hosts have a NIC on the NIC network',
    match: ({ test: t }) => {
      const missing = [!t.clientNic && t.clientHost, !t.serverNic && t.serverHost].filter(Boolean);
      if (!missing.length) return undefined;
      return {
        summary: `${missing.join(' and ')} ha${missing.length > 1 ? 've' : 's'} no NIC on ${t.netAddress} (nic${t.nicIndex}) of network ${t.network}`,
        hint: `the agent on ${missing.join(', ')} has not claimed a block for this NIC: check \`kubectl get hostinterface ${missing[0]} -o yaml\` lists a NIC on ${t.netAddress} and the agent's log`,
      };
    },
  },
  {
    id: 'pod-failed',
    title: 'the test pods start',
    match: ({ test: t, obs, namespace }) => {
      const pod = obs.server && !obs.server.started ? { p: obs.server, host: t.serverHost, role: 'server' } : obs.client && !obs.client.started ? { p: obs.client, host: t.clientHost, role: 'client' } : undefined;
      if (!pod) return undefined;
      return {
        summary: `${pod.role} pod ${pod.p.name} on ${pod.host} did not start${pod.p.message ? `: ${pod.p.message}` : ''}`,
        hint: `\`kubectl multinic doctor pod ${namespace}/${pod.p.name}\` maps its failed CNI ADD to a cause and fix (or \`${describe(namespace, pod.p.name)}\`); \`kubectl multinic doctor --node ${pod.host}\` checks the agent and CNI there`,
        evidence: [`phase: ${pod.p.phase ?? 'unknown'}`],
      };
    },
  },
  {
    id: 'no-address',
    title: 'each pod has an address on the NIC under test',
    match: ({ test: t, obs, namespace }) => {
      const pod = obs.server?.started && !obs.server.address ? { p: obs.server, host: t.serverHost, nic: t.serverNic } : obs.client?.started && !obs.client.address ? { p: obs.client, host: t.clientHost, nic: t.clientNic } : undefined;
      if (!pod) return undefined;
      return {
        summary: `pod ${pod.p.name} on ${pod.host} has no address on network ${t.network} (masters: ${pod.nic?.interfaceName})`,
        hint: `its k8s.v1.cni.cncf.io/network-status annotation has no entry with addresses for ${namespace}/${t.network}: check the NetworkAttachmentDefinition exists in ${namespace} and the IPPool of ${pod.host}/${pod.nic?.interfaceName} (kubectl get ippools), then \`${describe(namespace, pod.p.name)}\``,
      };
    },
  },
  {
    id: 'gateway-address',
    title: "no pod holds its host's L3 gateway address",
    match: ({ test: t, obs, client }) => {
      if (client?.ok) return undefined;
      for (const [p, nic, host] of [[obs.client, t.clientNic, t.clientHost], [obs.server, t.serverNic, t.serverHost]] as const) {
        const gw = shimGatewayOf(t, nic);
        if (gw && p?.address === gw) {
          return {
            summary: `pod ${p.name} on ${host} got ${gw}, the address of ${host}'s L3 gateway (the macvlan shim) on ${nic?.interfaceName}: its traffic ends at the host`,
            hint: `the IPAM must not hand out the first usable address of ${host}'s block ${nic?.podCIDR} in macvlan L3 mode: check the IPPool of ${host}/${nic?.interfaceName} excludes ${gw} (kubectl get ippools -o yaml) and the agent's allocator`,
          };
        }
      }
      return undefined;
    },
  },
  {
    id: 'wrong-interface',
    title: 'each pod address lies in its host block on the NIC under test',
    match: ({ test: t, obs }) => {
      for (const [p, nic, host] of [[obs.client, t.clientNic, t.clientHost], [obs.server, t.serverNic, t.serverHost]] as const) {
        const block = outsideBlock(p, nic);
        if (block) {
          return {
            summary: `pod ${p?.name} on ${host} got ${p?.address}, outside ${host}'s block ${block} on ${nic?.interfaceName} (nic${t.nicIndex})`,
            hint: `the CNI attached another NIC than masters=[${nic?.interfaceName}]: compare the pod's network-status with \`kubectl get ippools\` for ${host}, and the agent's NIC discovery (kubectl get hostinterface ${host} -o yaml)`,
          };
        }
      }
      return undefined;
    },
  },
  {
    id: 'server-failed',
    title: 'the iperf3 server listens',
    match: ({ test: t, obs, server }) => {
      if (!server?.error) return undefined;
      return {
        summary: `iperf3 server on ${t.serverHost} failed: ${server.error}`,
        hint: `the server pod ${obs.server?.name} could not listen on port ${t.port}; pick other ports with --port-base`,
      };
    },
  },
  {
    id: 'no-address',
    title: 'the client pod has the NIC it is bound to',
    match: (ctx) => {
      const f = iperfFailed(ctx, 'bind', 'no-device');
      if (!f) return undefined;
      return {
        summary: `client on ${ctx.test.clientHost} cannot bind ${ctx.obs.client?.interface ?? POD_NIC}: ${f.error}`,
        hint: `the pod ${ctx.obs.client?.name} has no usable ${ctx.obs.client?.interface ?? POD_NIC} with an address: \`${describe(ctx.namespace, ctx.obs.client?.name ?? '')}\` and its network-status annotation`,
      };
    },
  },
  {
    id: 'iperf3-unsupported',
    title: "the image's iperf3 knows the options used",
    match: (ctx) => {
      const f = iperfFailed(ctx, 'unsupported');
      if (!f) return undefined;
      return { summary: `iperf3 in the image rejected an option: ${f.error}`, hint: 'use an image with iperf3 3.10 or newer (--bind-dev), e.g. --image networkstatic/iperf3' };
    },
  },
  {
    id: 'no-route',
    title: 'the client reaches the server',
    match: (ctx) => {
      const f = iperfFailed(ctx, 'unreachable', 'timeout');
      if (!f) return undefined;
      return {
        summary: `${where(ctx.test)}: ${f.kind === 'timeout' ? 'no answer from' : 'no route to'} ${ctx.obs.server?.address ?? 'the server'} (${f.error})`,
        hint: routeHint(ctx.test),
      };
    },
  },
  {
    id: 'refused',
    title: 'the server accepts the connection',
    match: (ctx) => {
      const f = iperfFailed(ctx, 'refused');
      if (!f) return undefined;
      return {
        summary: `${where(ctx.test)}: connection refused by ${ctx.obs.server?.address}:${ctx.test.port} after ${ctx.obs.attempts} attempt(s)`,
        hint: `nothing listened on port ${ctx.test.port} in pod ${ctx.obs.server?.name}: see its log (kubectl -n ${ctx.namespace} logs ${ctx.obs.server?.name}); a refusal from another host means the address is not the server pod's`,
      };
    },
  },
  {
    id: 'busy',
    title: 'the server is free for this test',
    match: (ctx) => {
      const f = iperfFailed(ctx, 'busy');
      if (!f) return undefined;
      return {
        summary: `${where(ctx.test)}: server busy after ${ctx.obs.attempts} attempt(s) (${f.error})`,
        hint: `another client holds ${ctx.obs.server?.address}:${ctx.test.port}; is another check running? use another --port-base`,
      };
    },
  },
  {
    id: 'timeout',
    title: 'the client finishes in time',
    match: ({ test: t, obs }) =>
      obs.clientTimedOut
        ? { summary: `${where(t)}: the client pod ${obs.client?.name} did not finish in time`, hint: 'the pod may be stuck pulling its image or the node is overloaded; rerun with --keep-pods and inspect it' }
        : undefined,
  },
  {
    id: 'iperf3-error',
    title: 'iperf3 ran',
    match: (ctx) => {
      if (!ctx.client || ctx.client.ok) return undefined;
      return { summary: `${where(ctx.test)}: iperf3 failed: ${ctx.client.error}`, hint: `see the client log: kubectl -n ${ctx.namespace} logs ${ctx.obs.client?.name} (rerun with --keep-pods)` };
    },
  },
  {
    id: 'wrong-interface',
    title: 'traffic leaves and arrives on the NIC under test',
    match: ({ test: t, obs, client, server }) => {
      if (!client?.ok || !obs.client?.address) return undefined;
      const addr = obs.client.address;
      const other = client.localHosts.filter((h) => h !== addr);
      if (other.length) {
        return {
          summary: `${where(t)}: iperf3 sent from ${other.join(', ')}, not from the pod's address ${addr} on ${obs.client.interface ?? POD_NIC}`,
          hint: `the pod's route to ${obs.server?.address ?? 'the server'} leaves by another interface: check \`ip route\` in the pod and the vlanCIDR route the CNI installs`,
        };
      }
      const seen = server?.acceptedFrom ?? [];
      if (seen.length && !seen.includes(addr)) {
        return {
          summary: `${where(t)}: the server saw the connection from ${seen.join(', ')}, not from the client's NIC address ${addr}`,
          hint: `the traffic was NATed or took another path: check no MASQUERADE rule covers the pod subnet on ${t.clientHost} (iptables -t nat -S) and the host routes (${routeHint(t)})`,
        };
      }
      return undefined;
    },
  },
  {
    id: 'no-traffic',
    title: 'data arrives',
    match: ({ test: t, client }) =>
      client?.ok && client.bytesReceived === 0 ? { summary: `${where(t)}: connected but no data arrived in ${client.seconds.toFixed(1)} s`, hint: 'a path MTU problem drops full-size segments: compare the MTU of the pod NIC, the host NIC and the fabric' } : undefined,
  },
  {
    id: 'slow',
    title: 'bandwidth meets the expectation',
    match: ({ test: t, client, tolerance }) => {
      if (!client?.ok || t.expectedGbps === undefined) return undefined;
      const got = gbps(client.receivedBps);
      const floor = t.expectedGbps * (1 - tolerance);
      if (got >= floor) return undefined;
      return {
        summary: `${where(t)}: ${fmt(got)} Gbit/s, expected at least ${fmt(floor)} (${fmt(t.expectedGbps)} ${t.expectation === 'flag' ? 'from --expect-gbps' : 'link speed'} - ${Math.round(tolerance * 100)}%)`,
        hint: `one TCP stream rarely fills a fast NIC: retry with --parallel 4; then check the NIC's MTU and errors on both hosts (ip -s link show ${t.clientNic?.interfaceName}) and that no other load shares it`,
        evidence: client.retransmits !== undefined ? [`retransmits: ${client.retransmits}`] : [],
      };
    },
  },
];

/** Whether a client answer is worth another attempt (server not yet listening, or busy). */
export const retryable = (o: Iperf3Outcome): boolean => !o.ok && (o.kind === 'busy' || o.kind === 'refused');

/** Judges one test from what was observed. `obs.aborted` without a client result gives a skip. */
export function evaluateTest(test: CheckTest, obs: TestObservation, opts: { tolerance: number; namespace: string; maxAttempts?: number }): TestResult {
  const client = obs.client?.log !== undefined ? parseIperf3Client(obs.client.log) : undefined;
  const server = obs.server?.log !== undefined ? parseIperf3Server(obs.server.log) : undefined;
  const base: TestResult = {
    id: test.id,
    network: test.network,
    nicIndex: test.nicIndex,
    netAddress: test.netAddress,
    client: { host: test.clientHost, interface: test.clientNic?.interfaceName, pod: obs.client?.name, address: obs.client?.address, ...(obs.client?.claim ? { claim: obs.client.claim } : {}) },
    server: { host: test.serverHost, interface: test.serverNic?.interfaceName, pod: obs.server?.name, address: obs.server?.address, ...(obs.server?.claim ? { claim: obs.server.claim } : {}), port: test.port },
    status: 'pass',
    summary: '',
    evidence: [],
    connected: !!client?.ok && client.bytesReceived > 0,
    expectedGbps: test.expectedGbps,
    expectation: test.expectation,
    attempts: obs.attempts,
  };
  if (client?.ok) {
    Object.assign(base, { gbps: gbps(client.receivedBps), sentGbps: gbps(client.sentBps), retransmits: client.retransmits, seconds: client.seconds, streams: client.streams });
  }
  if (obs.aborted && !client) return { ...base, status: 'skip', summary: 'not run: the check was interrupted' };
  const ctx: DiagnosisContext = { test, obs, client, server, tolerance: opts.tolerance, namespace: opts.namespace, maxAttempts: opts.maxAttempts ?? 3 };
  for (const d of DIAGNOSES) {
    const f = d.match(ctx);
    if (f) return { ...base, status: 'fail', cause: d.id, summary: f.summary, hint: f.hint, evidence: f.evidence ?? [] };
  }
  if (!client) return { ...base, status: 'fail', cause: 'iperf3-error', summary: `${where(test)}: no client result`, hint: 'rerun with --keep-pods and inspect the pods' };
  const got = base.gbps ?? 0;
  return {
    ...base,
    summary: `${fmt(got)} Gbit/s${test.expectedGbps !== undefined ? ` (expected >= ${fmt(test.expectedGbps * (1 - opts.tolerance))})` : ''}${base.retransmits ? `, ${base.retransmits} retransmits` : ''}`,
  };
}
