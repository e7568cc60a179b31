import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { outputFlags } from '../../cli/output.js';
import { doctorText } from '../../cli/views/doctor.js';
import { gatherDoctorSnapshot, requireInstalled } from '../../cluster/snapshot.js';
import { runDoctor, summaryLine } from '../../lib/doctor/report.js';
import type { DoctorReport } from '../../lib/doctor/types.js';
import { ExitCode } from '../../lib/errors.js';
import { parseDuration } from '../../kube/client.js';

export default class IpamCheckCommand extends BaseCommand<typeof IpamCheckCommand> {
  static override summary = 'Check IPAM consistency (the ipam checks of doctor alone); exit 1 on any finding.';
  static override description = `Like calicoctl ipam check: allocations of pods that no longer exist, one address held twice, a
pod whose network-status shows an address no allocation holds, and IPPool mirrors out of step with
each node's journal (asks the agents for fresh diagnostics first, up to --timeout).`;
  static override examples = ['<%= config.bin %> ipam check', '<%= config.bin %> ipam check --network multi-nic-sample -o json'];
  static override flags = {
    ...outputFlags(),
    network: Flags.string({ description: 'Only findings about this MultiNicNetwork.' }),
    node: Flags.string({ description: 'Only findings about this node.' }),
    timeout: Flags.string({ description: 'How long to wait for the agents to answer the probe (0: use what they last published).', default: '5s' }),
  };

  async run(): Promise<DoctorReport> {
    const timeoutMs = parseDuration(this.flags.timeout);
    const kube = await this.kube();
    await requireInstalled(kube);
    const snap = await gatherDoctorSnapshot(kube, { cliVersion: this.config.version, node: this.flags.node, probeTimeoutMs: timeoutMs });
    // Any finding fails ipam check (--strict semantics): a leak or a mirror lag is what it is asked to find.
    const report = runDoctor(snap, { groups: ['ipam'], network: this.flags.network, node: this.flags.node, strict: true });
    await this.emit({ data: report, human: () => doctorText(report, summaryLine(report).replace(/^doctor:/, 'ipam check:')) });
    if (report.findings.length > 0) this.exit(ExitCode.Problems);
    return report;
  }
}
