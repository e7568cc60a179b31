// Upstream's troubleshooting guide and health-checker codes (IBM Multi-NIC CNI), row by row, mapped
// to the checks that find the same fault here, or to why the row does not apply to this design.
// docs/troubleshooting.md is generated from this list and the registry. Pure data.

export interface UpstreamRow {
  symptom: string;
  /** Check ids of src/lib/doctor/registry.ts that find it. */
  checks: string[];
  /** Why the row does not apply (no check can find what cannot happen here). */
  notApplicable?: string;
  /** Anything else to say: a command to run, a plan warning. */
  note?: string;
}

/** Upstream's troubleshooting table (symptom → check → remedy). */
export const UPSTREAM_SYMPTOMS: readonly UpstreamRow[] = [
  { symptom: 'Controller OOMKilled', checks: ['agent-daemonset'], notApplicable: 'there is no controller Deployment: the agents coordinate through the API; an agent that crash-loops (OOM included) shows as not ready' },
  { symptom: 'HostInterface not created; `daemonsets.apps "multi-nicd" not found` (no Config)', checks: ['agent-daemonset'], notApplicable: 'there is no Config resource: `kubectl multinic install` creates the DaemonSet itself; a missing DaemonSet is named' },
  { symptom: 'HostInterface not created; node tainted', checks: ['agent-daemonset'] },
  { symptom: 'HostInterface without interfaces; controller cannot reach the daemon on TCP 11000', checks: ['agent-diagnostics'], notApplicable: 'agents listen on no TCP port: each publishes its own HostInterface through the API, and doctor asks them to probe through the API too' },
  { symptom: 'No interfaces; `cannot list address on <iface>` (NIC without IPv4)', checks: ['network-status', 'network-host-fit'], note: '`kubectl multinic plan --inventory` warns NicWithoutAddress' },
  { symptom: 'No interfaces; `cannot get PCI info` (pci-ids lookup over the network)', checks: [], notApplicable: 'vendor and product IDs are read from sysfs; nothing is fetched from the network' },
  { symptom: 'Pod stuck in ContainerCreating: "network not found"', checks: ['pod-network', 'network-nads', 'pod-events'] },
  { symptom: '"CNI binary not found" (multi-nic)', checks: ['multus', 'node-binaries', 'pod-events'] },
  { symptom: '"CNI binary not found" (a delegate, e.g. ipvlan)', checks: ['node-binaries', 'pod-events'] },
  { symptom: '`IPAM ExecAdd: failed` - `failed to load netconf`', checks: ['pod-events'], notApplicable: 'there is no separate IPAM executable: the agent allocates; a config error comes back as CNI code 7 with the field' },
  { symptom: '`IPAM ExecAdd` - `"netx": address already in use` (IPPool unsynced)', checks: ['ipam-duplicate', 'ipam-mirror', 'ipam-unallocated'] },
  { symptom: '`failed to request ip Response nothing`', checks: ['agent-daemonset', 'agent-diagnostics', 'network-pool-use', 'pod-events'] },
  { symptom: '"No available IP address"', checks: ['network-pool-use', 'network-host-fit', 'ipam-leaked'] },
  { symptom: '`IPAM plugin returned missing IP config`', checks: ['pod-events'], notApplicable: 'selection and allocation are one all-or-nothing request to the agent; a failure returns a CNI error (100-199), never an empty result' },
  { symptom: '`zero config` (no masters, daemon unreachable, interface missing)', checks: ['pod-events', 'network-status', 'node-links'] },
  { symptom: 'Ping fails, L2 (macvlan/ipvlan l2)', checks: [], notApplicable: 'whether the fabric carries the pod addresses is outside the cluster', note: '`kubectl multinic check` proves it with traffic over every NIC' },
  { symptom: 'Ping fails, L3 (routeStatus WaitForRoutes / Failed / Unknown / N/A)', checks: ['network-status', 'node-routes', 'node-sysctls', 'node-links', 'pod-netns'], note: '`kubectl multinic check` for traffic' },
  { symptom: 'Hang on a non-responding API server (summary table; fixed upstream by PR #172)', checks: ['agent-daemonset', 'agent-diagnostics'], notApplicable: 'a pod ADD never calls the API: the agent allocates from its local journal and mirrors to IPPools later; an agent survives an API outage, logs it and records an APIOutageEnded Event' },
  { symptom: '"failed to clean up previous pod network" (summary table; PR #165, host-device #152)', checks: ['pod-events'], notApplicable: 'DEL is idempotent: it succeeds when the netns, the link or a lent NIC is already gone' },
  { symptom: '"failed to clean up previous IP allocation" (summary table; PR #104)', checks: ['ipam-leaked', 'ipam-duplicate'], notApplicable: 'allocations are keyed by pod UID + container + interface and released by that key; one a missing DEL left behind is found by `kubectl multinic ipam check` and released by the agent\'s GC or `kubectl multinic ipam release`' },
  { symptom: 'TCP/UDP fails but ping works (daemon join label)', checks: ['node-links', 'node-routes', 'node-sysctls'], notApplicable: 'there is no join label; the causes that remain are an MTU mismatch, foreign routes and strict rp_filter' },
];

/** Upstream's health-checker status codes. */
export const UPSTREAM_HEALTH_CODES: readonly UpstreamRow[] = [
  { symptom: '400 NetworkNotFound (NAD not created)', checks: ['network-nads', 'pod-network'] },
  { symptom: '401 PluginNotFound (CNI binary missing)', checks: ['node-binaries', 'multus'] },
  { symptom: '500 ConfigFailure', checks: ['pod-events', 'network-status'] },
  { symptom: '501 PluginNotSupport', checks: ['node-binaries'] },
  { symptom: '600 NetNSFailure (checker cannot create a netns)', checks: ['pod-netns'], notApplicable: 'there is no checker pod; the agent reads each pod\'s own netns' },
  { symptom: '601 IPAMFailure', checks: ['network-pool-use', 'ipam-leaked', 'ipam-duplicate', 'node-journal'] },
  { symptom: '602 PluginExecFailure', checks: ['pod-events', 'node-binaries'] },
  { symptom: '603 PartialFailure (some devices unhealthy)', checks: ['node-links', 'node-routes'] },
  { symptom: '700 DaemonConnectionFailure', checks: ['agent-daemonset', 'agent-diagnostics'] },
  { symptom: '999 Unknown (no agent: taint)', checks: ['agent-daemonset'] },
];
