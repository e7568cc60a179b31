// `kubectl multinic lab up|down|status`: a simulated multi-NIC cluster on one machine. `up` builds
// the kernel topology, then starts one detached supervisor process (`lab serve`) that runs the API
// stand-in, registers the hosts as Nodes, plays the agent DaemonSet and the node runner. `down`
// removes everything by name prefix, so it also cleans up after a crash.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitCode, UserError } from '../lib/errors.js';
import { type LabOptions, type LabTopology, checkLabOptions, labTopology } from '../lib/lab/topology.js';
import { createLabNetwork, destroyLabNetwork, labNamespaces } from './network.js';

export interface LabState {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'LabState';
  prefix: string;
  dir: string;
  kubeconfig: string;
  server: string;
  supervisorPid: number;
  startedAt: string;
  topology: LabTopology;
}

export const DEFAULT_PREFIX = 'mnlab';
export const defaultLabDir = (prefix: string): string => join(process.env.TMPDIR ?? tmpdir(), 'kubectl-multinic-lab', prefix);
export const labStatePath = (dir: string): string => join(dir, 'lab.json');

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** argv that runs this CLI (the supervisor and agents are this same program). */
export const cliArgv = (): string[] => [process.execPath, join(repoRoot, 'bin', 'kubectl-multinic')];
/** The agent's own executable, as the DaemonSet runs it (`multinic-agent run ...`). */
export const agentArgv = (): string[] => [process.execPath, join(repoRoot, 'bin', 'multinic-agent'), 'run'];

export function readLabState(dir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(labStatePath(dir), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new UserError('the lab needs root: it creates network namespaces, veth pairs and bridges', { hint: 'run it as root (sudo -E kubectl multinic lab up)' });
  }
}

export interface LabUpOptions extends LabOptions {
  dir: string;
  timeoutMs?: number;
  progress?: (line: string) => void;
}

/** Builds the lab and waits until its control plane answers. */
export async function labUp(o: LabUpOptions): Promise<LabState> {
  const bad = checkLabOptions(o);
  if (bad) throw new UserError(bad);
  requireRoot();
  const existing = await labNamespaces(o.prefix);
  if (existing.length > 0 || readLabState(o.dir)) {
    throw new UserError(`a lab with prefix "${o.prefix}" is already up (${existing.length} namespaces, state in ${o.dir})`, {
      hint: `use it (kubectl multinic lab status), or remove it first: kubectl multinic lab down --prefix ${o.prefix}`,
    });
  }
  const progress = o.progress ?? (() => undefined);
  const topology = labTopology(o);
  mkdirSync(o.dir, { recursive: true });
  progress(`creating ${o.hosts} hosts x ${o.nics} NICs (network namespaces ${o.prefix}-host1..${o.hosts}, fabrics ${topology.fabrics.map((f) => f.network).join(', ')})`);
  await createLabNetwork(topology);
  writeFileSync(join(o.dir, 'topology.json'), JSON.stringify(topology, null, 2));
  progress('starting the control plane (API stand-in, node runner, agent DaemonSet player)');
  const log = openSync(join(o.dir, 'supervisor.log'), 'a');
  const child = spawn(cliArgv()[0]!, [...cliArgv().slice(1), 'lab', 'serve', '--dir', o.dir], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    const st = readLabState(o.dir);
    if (st && (await ready(st.server))) return st;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = existsSync(join(o.dir, 'supervisor.log')) ? readFileSync(join(o.dir, 'supervisor.log'), 'utf8').split('\n').slice(-15).join('\n') : '';
  await labDown({ prefix: o.prefix, dir: o.dir }).catch(() => undefined);
  throw new UserError(`the lab control plane did not come up; everything was removed again.\n${tail}`, { exitCode: ExitCode.Internal });
}

function ready(server: string): Promise<boolean> {
  return new Promise((res) => {
    const req = http.get(`${server}/readyz`, { timeout: 1000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('error', () => res(false));
    req.on('timeout', () => {
      req.destroy();
      res(false);
    });
  });
}

export interface LabDownResult {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'LabDown';
  prefix: string;
  namespaces: string[];
  links: string[];
  processes: number;
  dir: string;
}

/** Stops the supervisor and removes every namespace, link, process and file of the lab. Idempotent. */
export async function labDown(o: { prefix: string; dir: string }): Promise<LabDownResult> {
  requireRoot();
  const st = readLabState(o.dir);
  let processes = 0;
  if (st?.supervisorPid) {
    try {
      process.kill(st.supervisorPid, 'SIGTERM');
      processes++;
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline && alive(st.supervisorPid)) await new Promise((r) => setTimeout(r, 100));
      if (alive(st.supervisorPid)) process.kill(st.supervisorPid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const removed = await destroyLabNetwork(o.prefix);
  processes += removed.killed.length;
  rmSync(o.dir, { recursive: true, force: true });
  return { apiVersion: 'multinic.fms.io/v1', kind: 'LabDown', prefix: o.prefix, namespaces: removed.namespaces, links: removed.links, processes, dir: o.dir };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface LabStatusResult {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'LabStatus';
  prefix: string;
  up: boolean;
  dir: string;
  kubeconfig?: string;
  server?: string;
  controlPlane: 'ready' | 'down' | 'absent';
  hosts: Array<{ name: string; netns: string; present: boolean; nics: string[] }>;
  /** The agent DaemonSet's rollout as `kubectl rollout status` reports it (absent: not installed or no control plane). */
  agents?: { daemonSet: string; done: boolean; message: string; desired: number; updated: number; ready: number };
  strayNamespaces: string[];
}

/** The agent DaemonSet's rollout read from the lab's API (the status the lab's DaemonSet player writes). */
async function agentRollout(kubeconfig: string): Promise<LabStatusResult['agents']> {
  const [{ connect }, { R }, { isAgentDaemonSet }, { rolloutMessage }] = await Promise.all([
    import('../kube/client.js'),
    import('../lib/k8s/resources.js'),
    import('../cluster/snapshot.js'),
    import('../lib/lab/rollout.js'),
  ]);
  const kube = await connect({ kubeconfig });
  const ds = (await kube.list(R.DaemonSet, {})).items.find((d) => isAgentDaemonSet(d) && !d.metadata?.deletionTimestamp);
  if (!ds) return undefined;
  const st = (ds.status ?? {}) as { desiredNumberScheduled?: number; updatedNumberScheduled?: number; numberReady?: number };
  const r = rolloutMessage(ds as never);
  return { daemonSet: `${ds.metadata?.namespace ?? ''}/${ds.metadata?.name ?? ''}`, done: r.done, message: r.message, desired: st.desiredNumberScheduled ?? 0, updated: st.updatedNumberScheduled ?? 0, ready: st.numberReady ?? 0 };
}

export async function labStatus(o: { prefix: string; dir: string }): Promise<LabStatusResult> {
  const st = readLabState(o.dir);
  const namespaces = await labNamespaces(o.prefix).catch(() => [] as string[]);
  const hosts = (st?.topology.hosts ?? []).map((h) => ({ name: h.name, netns: h.netns, present: namespaces.includes(h.netns), nics: h.nics.map((n) => `${n.name} ${n.ipv4}/${n.prefixLen}`) }));
  const known = new Set([...(st?.topology.hosts.map((h) => h.netns) ?? []), st?.topology.fabricNetns]);
  const controlPlane = st ? ((await ready(st.server)) ? 'ready' : 'down') : 'absent';
  const agents = st && controlPlane === 'ready' ? await agentRollout(st.kubeconfig).catch(() => undefined) : undefined;
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'LabStatus',
    prefix: o.prefix,
    up: !!st && controlPlane === 'ready' && hosts.every((h) => h.present),
    dir: o.dir,
    ...(st ? { kubeconfig: st.kubeconfig, server: st.server } : {}),
    controlPlane,
    hosts,
    ...(agents ? { agents } : {}),
    // Pod namespaces, and the agents' health-check scratch namespaces (<host netns>-health-<pid>), are not strays.
    strayNamespaces: namespaces.filter((n) => !known.has(n) && !n.startsWith(`${o.prefix}-p`) && !/-health-\d+$/.test(n)),
  };
}
