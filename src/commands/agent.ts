import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { DEFAULT_AGENT_SOCKET } from '../lib/agent/protocol.js';
import { parseAgentArgs, runAgentUntilSignal } from '../agent/cli.js';

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
    'metrics-addr': Flags.string({ description: "[HOST]:PORT for Prometheus /metrics, /healthz and /readyz (default :9417; '' turns it off). See docs/metrics.md." }),
  };

  async run(): Promise<void> {
    const f = this.flags;
    const argv: string[] = ['--data-dir', f['data-dir'], '--socket', f.socket];
    if (f['state-file']) argv.push('--state-file', f['state-file']);
    if (f.kube) argv.push('--kube');
    if (f.kubeconfig) argv.push('--kubeconfig', f.kubeconfig);
    if (f.context) argv.push('--context', f.context);
    if (f.namespace) argv.push('--namespace', f.namespace);
    if (f['gc-grace']) argv.push('--gc-grace', f['gc-grace']);
    if (f.node) argv.push('--node', f.node);
    if (f['sysfs-root']) argv.push('--sysfs-root', f['sysfs-root']);
    if (f['rt-tables']) argv.push('--rt-tables', f['rt-tables']);
    if (f['enable-forwarding']) argv.push('--enable-forwarding');
    if (f.checkpoint) argv.push('--checkpoint', f.checkpoint);
    if (f['topology-xml']) argv.push('--topology-xml', f['topology-xml']);
    if (f.resync) argv.push('--resync', f.resync);
    if (f['max-connections']) argv.push('--max-connections', f['max-connections']);
    if (f['metrics-addr'] !== undefined) argv.push('--metrics-addr', f['metrics-addr']);
    if (f.dra) argv.push('--dra');
    if (f['kubelet-dir']) argv.push('--kubelet-dir', f['kubelet-dir']);
    await runAgentUntilSignal(parseAgentArgs(argv));
  }
}
