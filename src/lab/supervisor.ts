// The lab's long-running process (`kubectl multinic lab serve`, started detached by `lab up`):
// the API stand-in on the management bridge, Node objects for the hosts, the agent DaemonSet
// player and the node runner. SIGTERM stops it cleanly (pods torn down, agents stopped).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect } from '../kube/client.js';
import { R } from '../lib/k8s/resources.js';
import type { KubeApi } from '../kube/api.js';
import type { LabTopology } from '../lib/lab/topology.js';
import { LabAgents, ensureHostCniDir, labAgentSocket, labHostCniDir, labKubeletDir } from './agents.js';
import { LabDra } from './dra.js';
import { startApiServer } from './apiserver/server.js';
import { writeKubeconfig } from './kubeconfig.js';
import { agentArgv, cliArgv, type LabState, labStatePath } from './lab.js';
import { LabNodeRunner } from './runner.js';

/** Directories the runner searches for CNI plugins: our build output first, then the reference plugins. */
export function labCniPath(): string[] {
  const root = resolve(cliArgv()[1]!, '..', '..');
  return [join(root, 'build', 'cni'), join(root, 'bin'), '/usr/lib/cni', '/opt/cni/bin'].filter((d) => existsSync(d));
}

/** Creates the namespaces a cluster starts with and a Ready Node per lab host (idempotent). */
export async function registerLabNodes(kube: KubeApi, topology: LabTopology): Promise<void> {
  for (const ns of ['default', 'kube-system', 'kube-public']) {
    if (!(await kube.get(R.Namespace, ns))) await kube.create(R.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  const now = new Date().toISOString();
  for (const h of topology.hosts) {
    if (await kube.get(R.Node, h.name)) continue;
    await kube.create(R.Node, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: h.name, labels: { 'kubernetes.io/hostname': h.name, 'kubernetes.io/os': 'linux', 'multinic.fms.io/lab': topology.prefix } },
      spec: {},
    });
    await kube.patch(R.Node, h.name, {
      status: {
        addresses: [{ type: 'InternalIP', address: h.mgmtIp }, { type: 'Hostname', address: h.name }],
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'lab node runner is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
        nodeInfo: { kubeletVersion: 'lab', operatingSystem: 'linux', architecture: process.arch, containerRuntimeVersion: 'lab://netns' },
      },
    }, { subresource: 'status' });
  }
}

export async function serveLab(dir: string): Promise<void> {
  const topology = JSON.parse(readFileSync(join(dir, 'topology.json'), 'utf8')) as LabTopology;
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const server = await startApiServer({ host: topology.mgmtGateway, port: 0 });
  const kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  const kube = await connect({ kubeconfig });
  const now = new Date().toISOString();
  await registerLabNodes(kube, topology);
  // Each host its own CNI bin dir (as each node has its /opt/cni/bin), so a test can break one host.
  const cniPath = labCniPath();
  for (const h of topology.hosts) ensureHostCniDir(dir, h.name, cniPath);
  const cniPathFor = (host: string) => [labHostCniDir(dir, host)];
  // DRA's scheduler, claim controller and kubelet parts, and a fake GPU driver (src/lab/dra.ts).
  const dra = new LabDra({ kube, topology, kubeletDir: (host) => labKubeletDir(dir, host), log });
  await dra.start();
  const runner = new LabNodeRunner({
    kube,
    dra,
    topology,
    cniPath,
    cniPathFor,
    agentSocket: (host) => labAgentSocket(dir, host),
    appendLog: (ns, name, chunk) => {
      try {
        server.store.appendPodLog(ns, name, chunk);
      } catch {
        /* pod already deleted */
      }
    },
    log,
  });
  await runner.start();
  const agents = new LabAgents({ kube, topology, dir, kubeconfig, agent: agentArgv(), cniPath, cniPathFor, log });
  agents.start();
  const state: LabState = {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'LabState',
    prefix: topology.prefix,
    dir,
    kubeconfig,
    server: server.url,
    supervisorPid: process.pid,
    startedAt: now,
    topology,
  };
  writeFileSync(labStatePath(dir), JSON.stringify(state, null, 2));
  log(`lab ${topology.prefix} serving at ${server.url}; kubeconfig ${kubeconfig}`);
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log('stopping: tearing down pods and agents');
  dra.stop();
  await runner.stop().catch((e) => log(`runner stop: ${(e as Error).message}`));
  await agents.stop().catch((e) => log(`agents stop: ${(e as Error).message}`));
  await server.close();
}
