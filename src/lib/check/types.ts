// The data `kubectl multinic check` works on: what the cluster has (inventory), what to test
// (plan), what was seen (observation) and what it means (result, report). Plain data only.

/** One host's NIC on one NIC network of a MultiNicNetwork. */
export interface NicEndpoint {
  host: string;
  /** The host NIC (the `masters` entry that pins a pod to it). */
  interfaceName: string;
  hostIP?: string;
  /** The host's pod block on this NIC (from the CIDR resource; absent in host-subnet mode). */
  podCIDR?: string;
  /** Link speed in Mb/s from the HostInterface; 0/undefined when unknown. */
  speedMbps?: number;
  /** A PCI device backs the NIC: its link speed is a real promise, not a virtual link's nominal 10000. */
  physical: boolean;
}

/** One NIC network (interface index) of a MultiNicNetwork: which host has which NIC on it. */
export interface NicNetwork {
  index: number;
  netAddress: string;
  vlanCIDR?: string;
  /** Hosts on this NIC network, sorted by host name. */
  endpoints: NicEndpoint[];
}

export interface CheckNetwork {
  name: string;
  /** Where the NIC layout came from: the CIDR resource, or HostInterfaces (no CIDR yet / host-subnet mode). */
  source: 'cidr' | 'hostinterfaces';
  /** Policy routing table holding the host routes (docs/design.md §3.2); the network name. */
  routeTable: string;
  /** The network's subnet: the source of the policy rule that selects routeTable (absent in host-subnet mode). */
  subnet?: string;
  /**
   * macvlan in an L3 vlanMode: each host keeps a shim holding the first usable address of its pod
   * block as the pods' gateway (docs/design.md §4), so a pod must never hold that address.
   */
  shimGateway: boolean;
  nics: NicNetwork[];
}

export type PairMode = 'all' | 'ring' | 'star';

/**
 * How the check pods get the NIC under test: `annotation` pins it with the Multus annotation's
 * cni-args masters; `claim` asks for it with a ResourceClaim of the network's DRA DeviceClass
 * (docs/dra.md), so the kubelet's Prepare, the agent's claimed-NIC ADD and the KEP-4817 claim
 * status are on the tested path, and the pod's address is read from the claim's status.devices.
 */
export type AttachVia = 'annotation' | 'claim';

/** What the user asked for, validated (see validateCheckOptions). */
export interface CheckOptions {
  /** Networks to test; empty = every network. */
  networks: string[];
  /** Hosts to test; empty = every host of the network. */
  nodes: string[];
  /** Label selector given with --node-selector (resolved to host names at the edge). */
  nodeSelector?: string;
  pairs: PairMode;
  /** iperf3 test length in seconds. */
  duration: number;
  /** iperf3 parallel streams per test. */
  parallel: number;
  /** Host pairs tested at the same time. */
  concurrency: number;
  /** Expected Gbit/s per NIC; overrides the link speed. */
  expectGbps?: number;
  /** Accepted shortfall against the expectation, 0 <= t < 1. */
  tolerance: number;
  /** Glob over test ids (`NETWORK/CLIENT->SERVER/nicI`). */
  test?: string;
  image: string;
  portBase: number;
  namespace: string;
  keepPods: boolean;
  /** How the pods get their NIC (default annotation). */
  via?: AttachVia;
}

export type Expectation = 'flag' | 'link-speed' | 'none';

/** One iperf3 test: the client on `client` sends to a server on `server`, both pinned to NIC `nicIndex`. */
export interface CheckTest {
  /** `NETWORK/CLIENT->SERVER/nicI`, what --test matches. */
  id: string;
  /** The host-pair group (`NETWORK/CLIENT->SERVER`) whose tests run at the same time. */
  group: string;
  network: string;
  routeTable: string;
  subnet?: string;
  shimGateway: boolean;
  nicIndex: number;
  netAddress: string;
  clientHost: string;
  serverHost: string;
  /** Undefined when that host has no NIC on this NIC network (the test fails without pods). */
  clientNic?: NicEndpoint;
  serverNic?: NicEndpoint;
  /** Server port: unique per server host within the run (one iperf3 server per port). */
  port: number;
  expectedGbps?: number;
  expectation: Expectation;
}

export interface CheckGroup {
  id: string;
  network: string;
  clientHost: string;
  serverHost: string;
  tests: CheckTest[];
}

export interface CheckPlan {
  networks: CheckNetwork[];
  hosts: string[];
  groups: CheckGroup[];
  tests: CheckTest[];
}

/** What the orchestrator saw of one pod. */
export interface PodObservation {
  name: string;
  phase?: string;
  /** The pod's address on the tested network, from its network-status annotation (or its claim's status with --via claim). */
  address?: string;
  /** --via claim: the pod's ResourceClaim (namespace/name) the address was read from. */
  claim?: string;
  /** The pod interface holding that address (e.g. net1-0). */
  interface?: string;
  /** The pod reached Running (or finished) with a network-status annotation. */
  started: boolean;
  /** Why the pod did not start or has no address (status message, condition, or our timeout). */
  message?: string;
  log?: string;
}

/** Everything seen while running one test, handed to evaluateTest. */
export interface TestObservation {
  server?: PodObservation;
  client?: PodObservation;
  /** Client attempts made (busy/refused answers are retried). */
  attempts: number;
  /** The run was interrupted before this test finished. */
  aborted?: boolean;
  /** The client did not finish within its deadline. */
  clientTimedOut?: boolean;
}

export type TestStatus = 'pass' | 'fail' | 'skip';

export type FailureCause =
  | 'not-in-cidr'
  | 'pod-failed'
  | 'gateway-address'
  | 'no-address'
  | 'server-failed'
  | 'iperf3-unsupported'
  | 'no-route'
  | 'refused'
  | 'busy'
  | 'timeout'
  | 'wrong-interface'
  | 'no-traffic'
  | 'slow'
  | 'iperf3-error';

export interface TestEndpointResult {
  host: string;
  interface?: string;
  pod?: string;
  address?: string;
  /** --via claim: the pod's ResourceClaim (namespace/name) that got it the NIC. */
  claim?: string;
}

/** The outcome of one test (docs/conventions.md §9 shape: status, summary, hint, evidence). */
export interface TestResult {
  id: string;
  network: string;
  nicIndex: number;
  netAddress: string;
  client: TestEndpointResult;
  server: TestEndpointResult & { port: number };
  status: TestStatus;
  cause?: FailureCause;
  summary: string;
  hint?: string;
  evidence: string[];
  /** iperf3 connected and moved data. */
  connected: boolean;
  gbps?: number;
  sentGbps?: number;
  retransmits?: number;
  seconds?: number;
  streams?: number;
  expectedGbps?: number;
  expectation: Expectation;
  attempts: number;
}

export interface ConnectivityCell {
  client: string;
  server: string;
  connected: boolean;
  status: TestStatus;
}

export interface NicReport {
  index: number;
  netAddress: string;
  /** Who reaches whom on this NIC, sorted by client then server. */
  connectivity: ConnectivityCell[];
}

export interface HostPairReport {
  client: string;
  server: string;
  /** Sum over the pair's NICs, measured at the same time. */
  aggregateGbps: number;
  nics: number;
  passed: number;
  status: TestStatus;
}

export interface NetworkReport {
  name: string;
  nics: NicReport[];
  hostPairs: HostPairReport[];
}

export interface CheckReport {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'CheckReport';
  metadata: { name: string; creationTimestamp: string };
  spec: {
    networks: string[];
    nodes: string[];
    nodeSelector?: string;
    pairs: PairMode;
    duration: number;
    parallel: number;
    concurrency: number;
    expectGbps?: number;
    tolerance: number;
    test?: string;
    image: string;
    portBase: number;
    namespace: string;
    via?: AttachVia;
  };
  summary: {
    result: 'pass' | 'fail' | 'interrupted';
    total: number;
    passed: number;
    failed: number;
    skipped: number;
    durationSeconds: number;
  };
  networks: NetworkReport[];
  tests: TestResult[];
}
