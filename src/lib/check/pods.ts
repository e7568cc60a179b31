// The pods a check creates and what it reads back from them. Pure: manifests in, plain data out.
import { deviceClassName } from '../dra/slices.js';
import { DRIVER, type ResourceClaim } from '../dra/types.js';
import { UserError } from '../errors.js';
import type { KubeObject } from '../k8s/meta.js';
import type { AttachVia, CheckTest } from './types.js';
import { NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION, networkAddresses, readNetworkStatus, type NetworkAddress } from '../multus.js';

export { NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION };
export const RUN_LABEL = 'multinic.fms.io/check-run';
export const ROLE_LABEL = 'multinic.fms.io/check-role';
export const TEST_ANNOTATION = 'multinic.fms.io/check-test';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const CHECK_APP = 'multinic-check';
/** Multus' CNI_IFNAME for the attachment; our plugin names the pod NIC `<ifname>-<i>` (docs/design.md §3.3). */
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
    resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string | null }>;
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
  /** How the pod gets its NIC (default annotation). */
  via?: AttachVia;
}

/** The pod's claim entry with --via claim (pod.spec.resourceClaims[].name, the container's claim). */
export const POD_CLAIM = 'nic';
/** A Linux interface name (IFNAMSIZ 16: at most 15 bytes, no '/', no whitespace), safe inside a CEL string literal. */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}$/;

/** Name of the ResourceClaimTemplate of a test's server or client pods with --via claim (client attempts share it). */
export const claimTemplateName = (runId: string, n: number, role: 'server' | 'client'): string => podName(runId, n, role);

/**
 * The ResourceClaimTemplate that asks for exactly the NIC under test on one side of a test: one
 * device of the network's DRA DeviceClass (`<network>.multinic.fms.io`, which apply makes) whose
 * `interfaceName` is that host's NIC. The host itself is pinned by the pod's node affinity: the
 * scheduler allocates the claim on the node it places the pod on. Throws UserError for an
 * interface name that is not one (it would be pasted into CEL).
 */
export function nicClaimTemplate(test: CheckTest, n: number, role: 'server' | 'client', p: PodParams): KubeObject {
  const nic = role === 'server' ? test.serverNic : test.clientNic;
  if (!nic) throw new Error(`test ${test.id} has no ${role} NIC`);
  if (!IFNAME.test(nic.interfaceName)) {
    throw new UserError(`NIC "${nic.interfaceName}" of ${nic.host} (network ${test.network}) is not a valid interface name; it cannot be selected by a ResourceClaim`, {
      hint: `check the HostInterface of ${nic.host} (kubectl get hostinterface ${nic.host} -o yaml), or run the check with --via annotation`,
    });
  }
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: {
      name: claimTemplateName(p.runId, n, role),
      namespace: p.namespace,
      labels: { [NAME_LABEL]: CHECK_APP, 'app.kubernetes.io/managed-by': 'kubectl-multinic', [RUN_LABEL]: p.runId, [ROLE_LABEL]: role },
      annotations: { [TEST_ANNOTATION]: test.id },
    },
    spec: {
      spec: {
        devices: {
          requests: [
            {
              name: POD_CLAIM,
              exactly: {
                deviceClassName: deviceClassName(test.network),
                count: 1,
                selectors: [{ cel: { expression: `device.attributes["${DRIVER}"].interfaceName == "${nic.interfaceName}"` } }],
              },
            },
          ],
        },
      },
    },
  } as KubeObject;
}

/**
 * The pod's address on the claimed NIC from its ResourceClaim's status.devices (KEP-4817, written
 * by the agent after the CNI ADD): our driver's entry with networkData, its first IPv4 (else
 * first) address without the prefix length, and the pod interface. Undefined until written.
 */
export function claimNetworkAddress(claim: ResourceClaim | undefined): NetworkAddress | undefined {
  for (const d of claim?.status?.devices ?? []) {
    if (d.driver !== DRIVER || !d.networkData?.ips?.length) continue;
    const ips = d.networkData.ips.map((ip) => ip.split('/')[0] ?? ip);
    const address = ips.find((ip) => !ip.includes(':')) ?? ips[0]!;
    return { address, ...(d.networkData.interfaceName ? { interface: d.networkData.interfaceName } : {}) };
  }
  return undefined;
}

/** The name of the ResourceClaim made for the pod's --via claim entry (pod status.resourceClaimStatuses). */
export function podClaimName(pod: Pod): string | undefined {
  return pod.status?.resourceClaimStatuses?.find((s) => s.name === POD_CLAIM)?.resourceClaimName ?? undefined;
}

/** DNS-1123 pod name for test number `n` of a run: `mnchk-<run>-<n>-s|c[-<attempt>]`. */
export function podName(runId: string, n: number, role: 'server' | 'client', attempt = 1): string {
  return `mnchk-${runId}-${n}-${role === 'server' ? 's' : 'c'}${attempt > 1 ? `-${attempt}` : ''}`;
}

function checkPod(name: string, role: 'server' | 'client', test: CheckTest, n: number, host: string, master: string, args: string[], p: PodParams): Pod {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: p.namespace,
      labels: { [NAME_LABEL]: CHECK_APP, 'app.kubernetes.io/managed-by': 'kubectl-multinic', [RUN_LABEL]: p.runId, [ROLE_LABEL]: role },
      annotations: {
        // `masters` pins the pod to exactly the NIC under test (docs/design.md §3.3).
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
  return p.via === 'claim' ? byClaim(pod, role, host, n, test, p) : pod;
}

/**
 * The --via claim form of a check pod: the NIC comes from a ResourceClaim made from the test's
 * template (no cni-args masters: the agent attaches exactly the claimed NIC), and the pod is placed
 * on its host by node affinity rather than nodeName, so the scheduler allocates the claim there (a
 * pod with nodeName skips the scheduler and its claim would never be allocated).
 */
function byClaim(pod: Pod, role: 'server' | 'client', host: string, n: number, test: CheckTest, p: PodParams): Pod {
  const { nodeName: _pinned, ...spec } = pod.spec!;
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [NETWORKS_ANNOTATION]: JSON.stringify([{ name: test.network, namespace: p.namespace, interface: POD_IFNAME }]) } },
    spec: {
      ...spec,
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [host] }] }] } } },
      resourceClaims: [{ name: POD_CLAIM, resourceClaimTemplateName: claimTemplateName(p.runId, n, role) }],
      containers: spec.containers.map((c) => ({ ...c, resources: { claims: [{ name: POD_CLAIM }] } })),
    },
  };
}

/**
 * The server pod of a test: one-off iperf3 server (`-1`: one client, then exit) on the test's port;
 * text output flushed per line so "Server listening" in its log says it is ready.
 */
export function serverPod(test: CheckTest, n: number, p: PodParams): Pod {
  if (!test.serverNic) throw new Error(`test ${test.id} has no server NIC`);
  return checkPod(podName(p.runId, n, 'server'), 'server', test, n, test.serverHost, test.serverNic.interfaceName, ['-s', '-p', String(test.port), '-1', '--forceflush'], p);
}

/**
 * The client pod of a test: sends to `serverAddress` for `duration` seconds, JSON output. The
 * socket is bound to the pod NIC (`--bind-dev`, SO_BINDTODEVICE), so traffic cannot leave by
 * eth0; the source address iperf3 reports is then compared with the pod's address on the NIC.
 */
export function clientPod(test: CheckTest, n: number, serverAddress: string, p: PodParams, attempt = 1, bindDev = POD_NIC): Pod {
  if (!test.clientNic) throw new Error(`test ${test.id} has no client NIC`);
  const args = ['-c', serverAddress, '-p', String(test.port), '-t', String(p.duration), '-P', String(p.parallel), '-J', '--connect-timeout', String(CONNECT_TIMEOUT_MS), '--bind-dev', bindDev];
  return checkPod(podName(p.runId, n, 'client', attempt), 'client', test, n, test.clientHost, test.clientNic.interfaceName, args, p);
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
