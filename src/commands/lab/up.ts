import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { outputFlags } from '../../cli/output.js';
import { DEFAULT_PREFIX, defaultLabDir, labUp, type LabState } from '../../lab/lab.js';

export default class LabUpCommand extends BaseCommand<typeof LabUpCommand> {
  static override summary = 'Start a local multi-NIC lab: simulated hosts x NICs in network namespaces, with a Kubernetes API.';
  static override description = `Builds N hosts x M NICs as network namespaces (each NIC a veth into one bridge "fabric" per NIC index,
each fabric its own IPv4 network 10.0.<i>.0/24), starts a local Kubernetes API stand-in with the hosts as Nodes, a node runner that
plays kubelet + Multus for pods bound to the hosts, and runs the real agent on every host once the agent DaemonSet is installed.
Needs root. Remove it with 'kubectl multinic lab down'.`;
  static override examples = [
    '<%= config.bin %> lab up',
    '<%= config.bin %> lab up --hosts 4 --nics 4',
    'export KUBECONFIG=$(<%= config.bin %> lab up -o json | jq -r .kubeconfig)',
  ];
  static override flags = {
    hosts: Flags.integer({ description: 'Number of simulated hosts.', default: 3, min: 1, max: 200 }),
    nics: Flags.integer({ description: 'Secondary NICs per host.', default: 2, min: 1, max: 16 }),
    ipv6: Flags.boolean({ description: 'Also give every NIC an IPv6 address (fd00:0:<i>::<host>/64).', default: false }),
    prefix: Flags.string({ description: 'Name prefix of every namespace and link the lab creates.', default: DEFAULT_PREFIX }),
    dir: Flags.string({ description: 'Directory for the kubeconfig, logs and state (default: $TMPDIR/kubectl-multinic-lab/<prefix>).' }),
    ...outputFlags({ human: 'text' }),
  };

  async run(): Promise<LabState> {
    const f = this.flags;
    const dir = f.dir ?? defaultLabDir(f.prefix);
    const st = await labUp({ prefix: f.prefix, hosts: f.hosts, nics: f.nics, ipv6: f.ipv6, dir, progress: (l) => this.note(`» ${l}`) });
    await this.emit({
      data: { apiVersion: st.apiVersion, kind: st.kind, prefix: st.prefix, dir: st.dir, kubeconfig: st.kubeconfig, server: st.server, hosts: st.topology.hosts.map((h) => ({ name: h.name, netns: h.netns, nics: h.nics.map((n) => ({ name: n.name, address: `${n.ipv4}/${n.prefixLen}`, network: n.network })) })) },
      human: () =>
        [
          `lab "${st.prefix}" is up: ${st.topology.hosts.length} hosts x ${st.topology.fabrics.length} NICs, API ${st.server}`,
          `kubeconfig: ${st.kubeconfig}`,
          `next: export KUBECONFIG=${st.kubeconfig}; kubectl multinic install; kubectl multinic apply -f examples/network.yaml`,
        ].join('\n'),
    });
    return st;
  }
}
