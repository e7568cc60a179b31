// Flag parsing shared by `kubectl multinic agent` and the standalone entry (src/agent/bin.ts), and
// the process lifecycle: run until SIGTERM/SIGINT, then stop gracefully.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_AGENT_SOCKET } from '../lib/agent/protocol.js';
import { UserError } from '../lib/errors.js';
import { DEFAULT_METRICS_ADDR, parseListenAddress } from '../lib/agent/listen.js';
import { runAgent, stderrLog, type AgentOptions } from './main.js';

export const AGENT_USAGE = `usage: agent --node NAME (--state-file FILE | --kube [--kubeconfig PATH] [--context NAME] [--namespace NS]) [--gc-grace SECONDS]
             --data-dir DIR [--socket PATH] [--sysfs-root DIR] [--rt-tables PATH] [--enable-forwarding] [--checkpoint PATH] [--topology-xml PATH] [--resync SECONDS]
             [--max-connections N] [--cni-bin-dir DIR[:DIR...]] [--probe-interval SECONDS] [--self-check-interval SECONDS] [--health-interval SECONDS (default 60; 0 = off)]
             [--metrics-addr [HOST]:PORT (default ${DEFAULT_METRICS_ADDR}; '' = off)] [--dra [--kubelet-dir DIR (default /var/lib/kubelet)] [--dra-sysfs-root DIR (default --sysfs-root)]]`;

/** The standalone entry's options; `kubectl multinic agent` declares the same flags (test/commands/agent-flags.test.ts). */
export const AGENT_ARG_OPTIONS = {
  node: { type: 'string' },
  socket: { type: 'string' },
  'state-file': { type: 'string' },
  'data-dir': { type: 'string' },
  'sysfs-root': { type: 'string' },
  'rt-tables': { type: 'string' },
  'enable-forwarding': { type: 'boolean' },
  checkpoint: { type: 'string' },
  'topology-xml': { type: 'string' },
  kube: { type: 'boolean' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'gc-grace': { type: 'string' },
  resync: { type: 'string' },
  'max-connections': { type: 'string' },
  'cni-bin-dir': { type: 'string' },
  'probe-interval': { type: 'string' },
  'self-check-interval': { type: 'string' },
  'health-interval': { type: 'string' },
  'metrics-addr': { type: 'string' },
  dra: { type: 'boolean' },
  'kubelet-dir': { type: 'string' },
  'dra-sysfs-root': { type: 'string' },
} as const;

/** The agent's flags as given (by argv, or by `kubectl multinic agent`'s own flag parser), before any check. */
export type AgentFlags = { [K in keyof typeof AGENT_ARG_OPTIONS]?: (typeof AGENT_ARG_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** Parses agent argv (the standalone entry, src/agent/bin.ts) into AgentOptions via agentOptions. */
export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  let values: AgentFlags;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: AGENT_ARG_OPTIONS,
      strict: true,
    }));
  } catch (e) {
    throw new UserError((e as Error).message, { hint: AGENT_USAGE });
  }
  return agentOptions(values, env);
}

/** Checks and converts the agent's flags (node defaults to $K8S_NODENAME, then the hostname). */
export function agentOptions(values: AgentFlags, env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const stateFile = values['state-file'] as string | undefined;
  const dataDir = values['data-dir'] as string | undefined;
  const kube = Boolean(values.kube);
  if (!stateFile && !kube) throw new UserError('a state source is required: --kube (the Kubernetes API) or --state-file FILE', { hint: AGENT_USAGE });
  if (stateFile && kube) throw new UserError('--state-file and --kube are exclusive: pick one state source', { hint: AGENT_USAGE });
  if (!dataDir) throw new UserError('--data-dir is required (IPAM journal and owned routing tables live there)', { hint: AGENT_USAGE });
  const opts: AgentOptions = {
    nodeName: (values.node as string | undefined) ?? env.K8S_NODENAME ?? hostname(),
    socketPath: (values.socket as string | undefined) ?? DEFAULT_AGENT_SOCKET,
    ...(stateFile ? { stateFile } : {}),
    dataDir,
    enableForwarding: Boolean(values['enable-forwarding']),
  };
  const grace = values['gc-grace'] as string | undefined;
  if (grace !== undefined && !/^\d+(\.\d+)?$/.test(grace)) throw new UserError(`--gc-grace must be a number of seconds, got "${grace}"`, { hint: AGENT_USAGE });
  // One grace for both collectors: the CNI GC verb's and (with --kube) the leaked-pod GC's.
  if (grace !== undefined) opts.cniGcGraceMs = Number(grace) * 1000;
  if (kube) {
    opts.kube = {
      namespace: (values.namespace as string | undefined) ?? env.POD_NAMESPACE ?? 'multinic-system',
      ...(values.kubeconfig ? { kubeconfig: values.kubeconfig as string } : {}),
      ...(values.context ? { context: values.context as string } : {}),
      ...(grace !== undefined ? { gcGraceMs: Number(grace) * 1000 } : {}),
    };
  }
  const resync = values.resync as string | undefined;
  if (resync !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(resync) || Number(resync) < 1) throw new UserError(`--resync must be a number of seconds >= 1, got "${resync}"`, { hint: AGENT_USAGE });
    opts.resyncMs = Number(resync) * 1000;
  }
  const maxConn = values['max-connections'] as string | undefined;
  if (maxConn !== undefined) {
    if (!/^\d+$/.test(maxConn) || Number(maxConn) < 1) throw new UserError(`--max-connections must be a whole number >= 1, got "${maxConn}"`, { hint: AGENT_USAGE });
    opts.maxConnections = Number(maxConn);
  }
  const probe = values['probe-interval'] as string | undefined;
  if (probe !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(probe) || Number(probe) < 1) throw new UserError(`--probe-interval must be a number of seconds >= 1, got "${probe}"`, { hint: AGENT_USAGE });
    opts.probeIntervalMs = Number(probe) * 1000;
  }
  const selfCheck = values['self-check-interval'] as string | undefined;
  if (selfCheck !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(selfCheck) || Number(selfCheck) < 1) throw new UserError(`--self-check-interval must be a number of seconds >= 1, got "${selfCheck}"`, { hint: AGENT_USAGE });
    opts.selfCheckIntervalMs = Number(selfCheck) * 1000;
  }
  // The continuous per-NIC health check (docs/metrics.md#continuous-health): every 60 s unless told.
  const healthEvery = (values['health-interval'] as string | undefined) ?? '60';
  {
    if (!/^\d+(\.\d+)?$/.test(healthEvery) || (Number(healthEvery) > 0 && Number(healthEvery) < 5)) throw new UserError(`--health-interval must be 0 (off) or a number of seconds >= 5, got "${healthEvery}"`, { hint: AGENT_USAGE });
    opts.healthIntervalMs = Number(healthEvery) * 1000;
  }
  // Metrics, /healthz and /readyz (docs/metrics.md): on by default, off with an empty value.
  const metricsAddr = parseListenAddress((values['metrics-addr'] as string | undefined) ?? DEFAULT_METRICS_ADDR);
  if (metricsAddr) opts.metricsAddr = metricsAddr;
  const binDir = values['cni-bin-dir'] as string | undefined;
  if (binDir !== undefined) {
    // A search list like CNI_PATH; each entry is a directory the prober joins a plugin name to.
    const dirs = binDir.split(':').filter(Boolean);
    const bad = dirs.find((d) => !d.startsWith('/') || d.split('/').includes('..'));
    if (dirs.length === 0 || bad !== undefined) throw new UserError(`--cni-bin-dir must be absolute directories without "..", separated by ':', got "${binDir}"`, { hint: 'e.g. --cni-bin-dir /opt/cni/bin (where Multus finds CNI plugins)' });
    opts.cniBinDirs = dirs;
  }
  if (values['kubelet-dir'] !== undefined && !values.dra) throw new UserError('--kubelet-dir is only used with --dra', { hint: AGENT_USAGE });
  if (values['dra-sysfs-root'] !== undefined && !values.dra) throw new UserError('--dra-sysfs-root is only used with --dra', { hint: AGENT_USAGE });
  if (values.dra) {
    if (!kube) throw new UserError('--dra needs --kube: ResourceSlices and claims live in the Kubernetes API', { hint: AGENT_USAGE });
    const dir = values['kubelet-dir'] as string | undefined;
    if (dir !== undefined && (!dir.startsWith('/') || dir.split('/').includes('..'))) throw new UserError(`--kubelet-dir must be an absolute directory without "..", got "${dir}"`, { hint: 'e.g. --kubelet-dir /var/lib/kubelet (the kubelet --root-dir)' });
    const sysfs = values['dra-sysfs-root'] as string | undefined;
    if (sysfs !== undefined && (!sysfs.startsWith('/') || sysfs.split('/').includes('..'))) throw new UserError(`--dra-sysfs-root must be an absolute directory without "..", got "${sysfs}"`, { hint: 'it is where the PCIe root and RDMA facts of the ResourceSlice are read (class/net/IFNAME/device); default --sysfs-root' });
    opts.dra = { ...(dir ? { kubeletDir: dir } : {}), ...(sysfs ? { sysfsRoot: sysfs } : {}) };
  }
  if (values['sysfs-root']) opts.sysfsRoot = values['sysfs-root'] as string;
  if (values['rt-tables']) opts.rtTablesPath = values['rt-tables'] as string;
  const podFacts: NonNullable<AgentOptions['podFacts']> = {};
  if (values.checkpoint) podFacts.checkpoint = values.checkpoint as string;
  if (values['topology-xml']) podFacts.topologyXml = values['topology-xml'] as string;
  if (Object.keys(podFacts).length) opts.podFacts = podFacts;
  return opts;
}

/**
 * Keeps the process alive through a promise rejection nobody handled: logged as the bug it is,
 * with its stack, while the agent keeps serving the CNI (Node's default would exit, taking every
 * pod ADD and DEL of the node down for a failed background API write). Returns the uninstaller.
 */
export function guardRejections(log: (e: Record<string, unknown>) => void = stderrLog): () => void {
  const onRejection = (reason: unknown) => {
    log({ level: 'error', msg: 'BUG: unhandled promise rejection; the agent keeps serving', error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) });
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}

/** Runs the agent until SIGTERM/SIGINT; resolves after a graceful stop. */
export async function runAgentUntilSignal(opts: AgentOptions): Promise<void> {
  const unguard = guardRejections(opts.log ?? stderrLog);
  try {
    await runUntilSignal(opts);
  } finally {
    unguard();
  }
}

async function runUntilSignal(opts: AgentOptions): Promise<void> {
  const agent = await runAgent(opts);
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void agent.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
