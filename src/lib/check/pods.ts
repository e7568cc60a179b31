// The pods a check creates and what it reads back from them. Pure: manifests in, plain data out.
import type { KubeObject } from '../k8s/meta.js';
import type { CheckTest } from './types.js';
import { NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION, networkAddresses, readNetworkStatus, type NetworkAddress } from '../multus.js';

export { NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION };
export const RUN_LABEL = 'multinic.fms.io/check-run';
export const ROLE_LABEL = 'multinic.fms.io/check-role';
export const TEST_ANNOTATION = 'multinic.fms.io/check-test';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const CHECK_APP = 'multinic-check';
/** Multus' CNI_IFNAME for the attachment; our plugin names the pod NIC `<ifname>-<i>` (design §3.3). */
export const POD_IFNAME = 'net1';
export const POD_NIC = `${POD_IFNAME}-0`;
/** How long an iperf3 client waits for the control connection (ms). */
export const CONNECT_TIMEOUT_MS = 5000;

export interface PodSpecLike {
  nodeName?: string;
  restartPolicy?: string;
  containers: Array<{ name: string; image: string; command?: string[]; args?: string[]; [k: string]: unknown }>;
  [k: string]: unknown;
}

export interface Pod extends KubeObject {
  spec?: PodSpecLike;
  status?: {
    phase?: string;
    podIP?: string;
    message?: string;
    reason?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ state?: Record<string, { reason?: string; message?: string; exitCode?: number } | undefined> }>;
  };
}

export interface PodParams {
  runId: string;
  namespace: string;
  image: string;
  duration: number;
  parallel: number;
}

/** DNS-1123 pod name for test number `n` of a run: `mnchk-<run>-<n>-s|c[-<attempt>]`. */
export function podName(runId: string, n: number, role: 'server' | 'client', attempt = 1): string {
  return `mnchk-${runId}-${n}-${role === 'server' ? 's' : 'c'}${attempt > 1 ? `-${attempt}` : ''}`;
}

function checkPod(name: string, role: 'server' | 'client', test: CheckTest, host: string, master: string, args: string[], p: PodParams): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: p.namespace,
      labels: { [NAME_LABEL]: CHECK_APP, 'app.kubernetes.io/managed-by': 'kubectl-multinic', [RUN_LABEL]: p.runId, [ROLE_LABEL]: role },
      annotations: {
        // `masters` pins the pod to exactly the NIC under test (design §3.3).
        [NETWORKS_ANNOTATION]: JSON.stringify([{ name: test.network, namespace: p.namespace, interface: POD_IFNAME, 'cni-args': { masters: [master] } }]),
        [TEST_ANNOTATION]: test.id,
      },
    },
    spec: {
      nodeName: host,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      // GPU nodes are commonly tainted; the check must reach them like the training pods do.
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'iperf3',
          image: p.image,
          command: ['iperf3'],
          args,
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

/**
 * The server pod of a test: one-off iperf3 server (`-1`: one client, then exit) on the test's port;
 * text output flushed per line so "Server listening" in its log says it is ready.
 */
export function serverPod(test: CheckTest, n: number, p: PodParams): Pod {
  if (!test.serverNic) throw new Error(`test ${test.id} has no server NIC`);
  return checkPod(podName(p.runId, n, 'server'), 'server', test, test.serverHost, test.serverNic.interfaceName, ['-s', '-p', String(test.port), '-1', '--forceflush'], p);
}

/**
 * The client pod of a test: sends to `serverAddress` for `duration` seconds, JSON output. The
 * socket is bound to the pod NIC (`--bind-dev`, SO_BINDTODEVICE), so traffic cannot leave by
 * eth0; the source address iperf3 reports is then compared with the pod's address on the NIC.
 */
export function clientPod(test: CheckTest, n: number, serverAddress: string, p: PodParams, attempt = 1, bindDev = POD_NIC): Pod {
  if (!test.clientNic) throw new Error(`test ${test.id} has no client NIC`);
  const args = ['-c', serverAddress, '-p', String(test.port), '-t', String(p.duration), '-P', String(p.parallel), '-J', '--connect-timeout', String(CONNECT_TIMEOUT_MS), '--bind-dev', bindDev];
  return checkPod(podName(p.runId, n, 'client', attempt), 'client', test, test.clientHost, test.clientNic.interfaceName, args, p);
}

/**
 * The pod's address on `network` from its Multus network-status annotation (entry `<ns>/<net>`,
 * or `<net>` as older Multus writes it), in either form Multus writes (one merged entry per
 * attachment, or one per interface); IPv4 first when both families are present. `interface` only
 * when the annotation says which interface holds it. Undefined when the annotation, the entry or
 * its addresses are missing.
 */
export function podNetworkAddress(pod: Pod, namespace: string, network: string): NetworkAddress | undefined {
  const mine = networkAddresses(readNetworkStatus(pod.metadata?.annotations) ?? [], network, namespace);
  return mine.find((m) => !m.address.includes(':')) ?? mine[0];
}

/** True once the pod carries a network-status annotation (the CNI ADD finished, whatever it gave). */
export const hasNetworkStatus = (pod: Pod): boolean => !!pod.metadata?.annotations?.[NETWORK_STATUS_ANNOTATION];

/** A one-line reason a pod is not running: status message, a failing condition, or a waiting container. */
export function podProblem(pod: Pod): string | undefined {
  const s = pod.status;
  if (!s) return undefined;
  if (s.message) return `${s.reason ? `${s.reason}: ` : ''}${s.message}`;
  const cond = s.conditions?.find((c) => c.status === 'False' && c.message);
  if (cond) return `${cond.type}=False${cond.reason ? ` (${cond.reason})` : ''}: ${cond.message}`;
  for (const cs of s.containerStatuses ?? []) {
    for (const [state, detail] of Object.entries(cs.state ?? {})) {
      if (detail?.reason && state !== 'running') return `${state}: ${detail.reason}${detail.message ? ` ${detail.message}` : ''}`;
    }
  }
  return s.reason;
}
