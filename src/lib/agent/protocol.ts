// The agent's local API (docs/design.md §2): HTTP+JSON over a unix socket, no TCP listener. The CNI plugin is
// its only client on the hot path; `doctor` and the lab read it too. Every path is versioned; a
// request or response change that is not additive needs a new version prefix.

export const AGENT_API_VERSION = 'v1';
/** Default socket path on a node (mode 0600, owned by root). */
export const DEFAULT_AGENT_SOCKET = '/run/multinic/agent.sock';

/** Pod-level selection arguments: the NAD/annotation `cni-args`, seen by the CNI as `args.cni`. */
export interface SelectionArgs {
  /** Number of NICs wanted; `masters` beats `nics`. */
  nics?: number;
  /** Host NIC names wanted (upstream reads `masters`; the seed docs write `master`: both accepted). */
  masters?: string[];
  /** DeviceClass name (attachPolicy devClass). */
  class?: string;
  /** Bandwidth target for costOpt/perfOpt, e.g. "200Gbps". */
  target?: string;
}

/** Who is asking: the allocation key is podUID + containerID + ifName (StatefulSet-safe). */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  /** CNI_CONTAINERID. */
  containerID: string;
  /** CNI_IFNAME, e.g. net1; pod interfaces are `<ifName>-<i>`. */
  ifName: string;
  /** CNI_NETNS, for the record (the agent does not enter it). */
  netns?: string;
}

/** POST /v1/allocate: select NICs and allocate one address on each, all or nothing. */
export interface AllocateRequest {
  apiVersion: 'v1';
  /** MultiNicNetwork name (= NAD name). */
  network: string;
  pod: PodRef;
  args?: SelectionArgs;
  /** Device-plugin resource of the NAD (k8s.v1.cni.cncf.io/resourceName), when set. */
  resourceName?: string;
  /** PCI addresses the device plugin allocated to this pod for `resourceName`, when known. */
  deviceIDs?: string[];
}

/** One pod NIC as allocated by the agent: everything the CNI needs to delegate it. */
export interface AllocatedNic {
  /** Position i: the pod interface is `<ifName>-<i>`. */
  index: number;
  podInterface: string;
  /** Host NIC (the delegate's `master` / device). */
  master: string;
  /** Host NIC network, e.g. 10.0.1.0/24. */
  netAddress: string;
  /**
   * The pod's address with the prefix it is configured with (vlanCIDR prefix, or pod block in shim
   * mode). Empty for a single-NIC IPAM network (ipam.type is not multi-nic-ipam): the agent only
   * selects the NIC and the CNI passes the network's own IPAM (host-local, whereabouts...) to the
   * delegate, as upstream does; `routes`, `vlanCIDR`, `podCIDR` and `pool` are then empty too.
   */
  address: string;
  /** Gateway for `routes` (the host shim's address in macvlan L3 mode). */
  gateway?: string;
  /** Routes to install in the pod for this NIC (besides the connected route). */
  routes: Array<{ dst: string; gw?: string }>;
  vlanCIDR: string;
  podCIDR: string;
  /** IPPool the address came from. */
  pool: string;
  mtu?: number;
  /** PCI address of the host NIC or the VF (sriov/host-device). */
  pciAddress?: string;
}

export interface AllocateResponse {
  apiVersion: 'v1';
  network: string;
  /**
   * The main plugin of the MultiNicNetwork the addresses were shaped for (with `vlanMode`: the shim
   * gateway and routes of macvlan L3). The delegate itself is built from the runtime's config, which
   * DEL has without the agent; the CNI refuses an ADD whose config names another plugin type
   * (checkAnswerPlugin in src/lib/cni/delegate.ts).
   */
  plugin: { type: string; cniVersion: string; args: Record<string, string> };
  vlanMode: '' | 'l2' | 'l3' | 'l3s';
  nics: AllocatedNic[];
}

/** POST /v1/release: idempotent; releasing what is not held answers 200 with released: 0. */
export interface ReleaseRequest {
  apiVersion: 'v1';
  network: string;
  pod: Pick<PodRef, 'uid' | 'containerID' | 'ifName'> & Partial<PodRef>;
}

export interface ReleaseResponse {
  apiVersion: 'v1';
  released: number;
}

/** POST /v1/lookup: what the agent holds for a key (CNI CHECK). */
export type LookupRequest = ReleaseRequest;
export type LookupResponse = AllocateResponse;

/**
 * POST /v1/gc (CNI 1.1 GC): release every allocation of `network` on this node whose container ID
 * and CNI ifName are not in `keep` (the runtime's valid attachments). `keep` is required: a request
 * without it is refused (400), never read as "nothing is valid". Allocations younger than the
 * agent's GC grace period are kept even when not listed (an ADD may be in flight), and so are those
 * whose pod the agent knows to be live (with --kube: its cache of this node's pods).
 */
export interface GcRequest {
  apiVersion: 'v1';
  network: string;
  keep: Array<{ containerID: string; ifName: string }>;
}

export interface GcResponse {
  apiVersion: 'v1';
  /** Addresses released. */
  released: number;
  /** Addresses the runtime did not list but the agent kept because their pod is live (omitted when 0). */
  spared?: number;
}

/** Error body for every non-2xx answer. */
export interface AgentErrorBody {
  apiVersion: 'v1';
  /** Stable machine code, mapped by the CNI onto CNI error codes. */
  code:
    | 'InvalidRequest'
    | 'UnknownNetwork'
    | 'NotReady'
    | 'NoMatchingNic'
    | 'UnknownDeviceClass'
    | 'PoolExhausted'
    | 'NotFound'
    | 'Internal';
  message: string;
  hint?: string;
}

/** An error with its wire code and HTTP status: what the agent answers as an AgentErrorBody. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorBody['code'],
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  body(): AgentErrorBody {
    return { apiVersion: 'v1', code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }
}

export const HTTP_STATUS: Record<AgentErrorBody['code'], number> = {
  InvalidRequest: 400,
  UnknownNetwork: 404,
  NotFound: 404,
  NoMatchingNic: 422,
  UnknownDeviceClass: 422,
  PoolExhausted: 409,
  NotReady: 503,
  Internal: 500,
};
