import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { outputFlags } from '../../cli/output.js';
import { renderTable, useColor } from '../../cli/table.js';
import { formatCount } from '../../cli/views/plan.js';
import { gatherDoctorSnapshot, requireInstalled } from '../../cluster/snapshot.js';
import { buildIpamReport, type IpamReport } from '../../lib/doctor/ipam-report.js';

export default class IpamShowCommand extends BaseCommand<typeof IpamShowCommand> {
  static override summary = 'Show address blocks per host x NIC with used / capacity, and with -o wide every allocation.';
  static override description = `Capacity is what pods can get: the pod block's addresses minus its network address (and IPv4
broadcast), minus excludeCIDRs inside it, minus reserved addresses (the gateway a macvlan L3 host
holds on its shim). plan, status and the IPPool's status use the same figure.`;
  static override examples = ['<%= config.bin %> ipam show', '<%= config.bin %> ipam show --network multi-nic-sample --node host1 -o wide', '<%= config.bin %> ipam show -o json'];
  static override flags = {
    ...outputFlags({ wide: true, name: true }),
    network: Flags.string({ description: 'Only this MultiNicNetwork.' }),
    node: Flags.string({ description: 'Only this node.' }),
  };

  async run(): Promise<IpamReport> {
    const kube = await this.kube();
    await requireInstalled(kube);
    const snap = await gatherDoctorSnapshot(kube, { cliVersion: this.config.version, probeTimeoutMs: 0 });
    const report = buildIpamReport(snap, { network: this.flags.network, node: this.flags.node });
    const color = useColor(process.stdout, this.flags['no-color'], process.env);
    await this.emit({
      data: report,
      human: (wide) => ipamTable(report, wide, color),
      names: () => report.pools.map((p) => `ippool.multinic.fms.io/${p.pool}`),
    });
    return report;
  }
}

function ipamTable(report: IpamReport, wide: boolean, color: boolean): string {
  if (report.pools.length === 0) return 'no address blocks (no network has claimed blocks yet, or the filter matches none)';
  const pct = (p: IpamReport['pools'][number]) => (p.capacity === '0' ? '-' : `${Math.round((p.used * 100) / Number(p.capacity))}%`);
  const out = [
    renderTable(
      [{ header: 'NETWORK' }, { header: 'NODE' }, { header: 'NIC' }, { header: 'POD BLOCK' }, { header: 'USED' }, { header: 'CAPACITY' }, { header: 'USE' }, { header: 'RESERVED' }, { header: 'POOL' }],
      report.pools.map((p) => [p.network, p.node, p.nic, p.podCIDR, String(p.used), formatCount(BigInt(p.capacity)), pct(p), p.reserved.join(',') || '-', p.pool]),
      { color },
    ),
  ];
  if (wide) {
    const rows = report.pools.flatMap((p) => p.allocations.map((a) => [a.address, a.pod, a.podUID ?? '-', a.containerID ? a.containerID.slice(0, 12) : '-', a.interface ?? '-', `${p.node}/${p.nic}`, a.leaked ? 'leaked' : 'ok']));
    out.push('\n', rows.length ? renderTable([{ header: 'ADDRESS' }, { header: 'POD' }, { header: 'UID' }, { header: 'CONTAINER' }, { header: 'INTERFACE' }, { header: 'NODE/NIC' }, { header: 'STATE' }], rows, { color }) : 'no allocations');
  }
  return out.join('');
}
