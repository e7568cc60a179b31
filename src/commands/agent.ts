import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { DEFAULT_AGENT_SOCKET } from '../lib/agent/protocol.js';
import { agentOptions, runAgentUntilSignal } from '../agent/cli.js';

/** `kubectl multinic agent`: the node agent (DaemonSet entry point); runs until SIGTERM. */
export default class AgentCommand extends BaseCommand<typeof AgentCommand> {
  static override hidden = true;
  static override summary = 'Run the node agent (NIC discovery, routes, shims, the CNI socket).';
  static override examples = ['<%= config.bin %> agent --node host1 --state-file /etc/multinic/state.yaml --data-dir /var/lib/multinic'];
  static override flags = {
    node: Flags.string({ description: 'Node name (default: $K8S_NODENAME, then the hostname).' }),
    socket: Flags.string({ description: 'Unix socket the CNI plugin calls.', default: DEFAULT_AGENT_SOCKET }),
    'state-file': Flags.string({ description: 'YAML with MultiNicNetwork, CIDR and DeviceClass documents (instead of --kube).', exclusive: ['kube'] }),
    kube: Flags.boolean({ description: 'Take state from the Kubernetes API and publish HostInterface, CIDR claims, IPPools (the DaemonSet mode).' }),
    'gc-grace': Flags.string({ description: 'Seconds an allocation must look leaked before it is released (--kube; default 60).' }),
    'data-dir': Flags.string({ description: 'Durable data (IPAM journal, owned routing tables).', required: true }),
    'sysfs-root': Flags.string({ description: 'sysfs mount point (default /sys).' }),
    'rt-tables': Flags.string({ description: 'iproute2 rt_tables file (default /etc/iproute2/rt_tables).' }),
    'enable-forwarding': Flags.boolean({ description: 'Set net.ipv4.ip_forward=1 when an L3 network needs it.' }),
    checkpoint: Flags.string({ description: 'kubelet device-plugin checkpoint (topology, device-plugin NICs).' }),
    'topology-xml': Flags.string({ description: 'NCCL virtual topology XML (GPU NUMA nodes).' }),
    resync: Flags.string({ description: 'Seconds between full re-scans and route/shim re-asserts (default 60).' }),
    'max-connections': Flags.string({ description: 'Open connections on the agent socket at most; more are closed (default 512).' }),
    dra: Flags.boolean({ description: 'DRA (--kube): publish NICs as a resource.k8s.io/v1 ResourceSlice and serve the kubelet DRA plugin. See docs/dra.md.' }),
    'kubelet-dir': Flags.string({ description: 'kubelet root dir for the DRA plugin sockets (--dra; default /var/lib/kubelet).' }),
    'dra-sysfs-root': Flags.string({ description: 'sysfs root the ResourceSlice\'s PCIe root and RDMA facts are read from (--dra; default --sysfs-root).' }),
    'cni-bin-dir': Flags.string({ description: 'Host CNI bin directories, colon-separated, where the diagnostics look for the plugins this node needs (default /opt/cni/bin).' }),
    'probe-interval': Flags.string({ description: 'Seconds between node probes published as HostInterface diagnostics (default 30).' }),
    'self-check-interval': Flags.string({ description: 'Seconds between self-checks of the socket and the journal, behind /readyz (default 10).' }),
    'health-interval': Flags.string({ description: 'Seconds between continuous health rounds (allocability and reachability per NIC; default 60, 0 turns it off). See docs/metrics.md.' }),
    'metrics-addr': Flags.string({ description: "[HOST]:PORT for Prometheus /metrics, /healthz and /readyz (default :9417; '' turns it off). See docs/metrics.md." }),
  };

  async run(): Promise<void> {
    // The flags are the agent's own (src/agent/cli.ts AgentFlags), typed by oclif: no argv round trip.
    await runAgentUntilSignal(agentOptions(this.flags));
  }
}
