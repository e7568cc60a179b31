import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { outputFlags } from '../cli/output.js';
import { doctorText } from '../cli/views/doctor.js';
import { gatherDoctorSnapshot, requireInstalled } from '../cluster/snapshot.js';
import { runDoctor } from '../lib/doctor/report.js';
import type { DoctorReport } from '../lib/doctor/types.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { parseDuration } from '../kube/client.js';

export default class DoctorCommand extends BaseCommand<typeof DoctorCommand> {
  static override summary = 'Diagnose the install, every agent and node (kernel truth), every network and the IPAM; or one pod.';
  static override description = `Asks every agent to probe its node now (routes, rules, sysctls, links, CNI binaries, IPAM journal,
pods' interfaces) and waits up to --timeout for the answers, then runs every check of the registry
(docs/troubleshooting.md lists them) and prints one summary line and only what is wrong, each with
where, the likely cause and the fix. \`doctor pod NS/NAME\` explains one pod: its networks annotation,
the network and NAD in its namespace, its sandbox events (CNI error codes), and Multus' network-status
against the allocations and the interfaces really in the pod.

Exit 0 healthy (warnings alone too, unless --strict), 1 any failure, 3 cluster unreachable.`;
  static override examples = [
    '<%= config.bin %> doctor',
    '<%= config.bin %> doctor --network multi-nic-sample --node host1',
    '<%= config.bin %> doctor pod default/my-training-pod',
    '<%= config.bin %> doctor -o json --strict',
  ];
  static override args = {
    pod: Args.string({ description: '"pod" to diagnose one pod.', options: ['pod'] }),
    ref: Args.string({ description: 'The pod: NAMESPACE/NAME (or NAME with -n).' }),
  };
  static override flags = {
    ...outputFlags(),
    network: Flags.string({ description: 'Only findings about this MultiNicNetwork.' }),
    node: Flags.string({ description: 'Only findings about this node (and probe only its agent).' }),
    timeout: Flags.string({ description: 'How long to wait for the agents to answer the probe (0: use what they last published).', default: '5s' }),
    strict: Flags.boolean({ description: 'Warnings count as failures (exit 1).', default: false }),
  };

  async run(): Promise<DoctorReport> {
    const target = this.target();
    const timeoutMs = parseDuration(this.flags.timeout);
    const kube = await this.kube();
    await requireInstalled(kube);
    const snap = await gatherDoctorSnapshot(kube, { cliVersion: this.config.version, node: this.flags.node, probeTimeoutMs: timeoutMs, ...(target ? { target } : {}) });
    for (const [flag, value, known] of [
      ['--network', this.flags.network, snap.networks.map((n) => n.metadata.name ?? '')],
      ['--node', this.flags.node, snap.nodes.map((n) => n.metadata?.name ?? '')],
    ] as const) {
      if (value && !known.includes(value)) throw new UserError(`${flag} ${value}: not found`, { hint: `known: ${known.join(', ') || '(none)'}` });
    }
    const report = runDoctor(snap, { network: this.flags.network, node: this.flags.node, strict: this.flags.strict });
    await this.emit({ data: report, human: () => doctorText(report) });
    if (!report.healthy) this.exit(ExitCode.Problems);
    return report;
  }

  private target(): { namespace: string; name: string } | undefined {
    if (!this.args.pod) return undefined;
    const ref = this.args.ref;
    if (!ref) throw new UserError('doctor pod needs the pod: NAMESPACE/NAME', { hint: 'e.g. kubectl multinic doctor pod default/my-pod' });
    const m = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(ref);
    if (!m) throw new UserError(`pod "${ref}" is not NAMESPACE/NAME`, { hint: 'e.g. kubectl multinic doctor pod default/my-pod' });
    return { namespace: m[1] ?? this.flags.namespace ?? 'default', name: m[3] as string };
  }
}
