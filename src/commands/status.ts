import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { objectName, outputFlags } from '../cli/output.js';
import { renderTable, useColor } from '../cli/table.js';
import { formatCount, planTable } from '../cli/views/plan.js';
import { gatherSnapshot, requireInstalled } from '../cluster/snapshot.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { listPools } from '../lib/plan/index.js';
import { type ClusterSnapshot, type StatusReport, buildStatusReport } from '../lib/status.js';
import { parseDuration } from '../kube/client.js';
import { waitFor } from '../cli/wait.js';

export default class StatusCommand extends BaseCommand<typeof StatusCommand> {
  static override summary = 'Show networks (hosts x NICs: pod block, pool use, routes), node NICs and agent readiness.';
  static override description = `Exit 0 when every network is ready and every agent answers, 1 otherwise (scriptable: --wait
waits for readiness first, for CI).`;
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status multi-nic-sample -o wide',
    '<%= config.bin %> status --wait --timeout 2m',
    '<%= config.bin %> status -o json',
  ];
  static override args = { network: Args.string({ description: 'Only this MultiNicNetwork.' }) };
  static override flags = {
    ...outputFlags({ wide: true, name: true }),
    wait: Flags.boolean({ description: 'Wait until everything is ready (or --timeout passes).', default: false }),
    timeout: Flags.string({ description: 'How long --wait waits (e.g. 90s, 5m, 1m30s).', default: '2m' }),
  };

  async run(): Promise<StatusReport> {
    const timeoutMs = parseDuration(this.flags.timeout, '--timeout');
    const kube = await this.kube();
    const once = async (): Promise<{ snap: ClusterSnapshot; report: StatusReport }> => {
      await requireInstalled(kube);
      const snap = await gatherSnapshot(kube);
      if (this.args.network && !snap.networks.some((n) => n.metadata.name === this.args.network)) {
        throw new UserError(`MultiNicNetwork "${this.args.network}" not found`, {
          hint: `networks in the cluster: ${snap.networks.map((n) => n.metadata.name).join(', ') || '(none; create one with kubectl multinic apply -f NETWORK.yaml)'}`,
        });
      }
      return { snap, report: buildStatusReport(snap, this.args.network) };
    };
    // --wait waits through a briefly unreachable API; without it, one look.
    const { snap, report } = this.flags.wait
      ? (await waitFor({
          poll: once,
          settled: (v) => v.report.ready,
          terminal: (v) => v.report.networks.flatMap((n) => (n.terminal ? [`${n.name}: ${n.terminal}`] : []))[0],
          line: (v) => (v.report.ready ? 'ready' : `waiting: ${v.report.networks.flatMap((n) => n.problems.map((p) => `${n.name}: ${p}`))[0] ?? 'agents not ready'}`),
          timeoutMs,
          note: (t) => this.note(t),
        })).value
      : await once();
    await this.emit({
      data: report,
      human: (wide) => this.human(report, snap, wide),
      names: () => report.networks.map((n) => objectName({ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', metadata: { name: n.name } })),
    });
    if (!report.ready) {
      if (this.flags.wait) {
        const terminal = report.networks.find((n) => n.terminal);
        this.note(terminal ? `error: stopped waiting: ${terminal.name}: ${terminal.terminal}` : `error: not ready after ${this.flags.timeout}`);
      }
      this.exit(ExitCode.Problems);
    }
    return report;
  }

  private human(r: StatusReport, snap: ClusterSnapshot, wide: boolean): string {
    const color = useColor(process.stdout, this.flags['no-color'], process.env);
    const out: string[] = [];
    out.push(
      r.agents.daemonSet
        ? `AGENTS ${r.agents.ready}/${r.agents.desired} ready (DaemonSet ${r.agents.daemonSet})`
        : 'AGENTS not installed (kubectl multinic install)',
    );
    for (const n of r.networks) {
      const cidr = snap.cidrs.find((c) => c.metadata.name === n.name);
      const state = n.ready ? 'Ready' : 'NotReady';
      out.push('');
      out.push(`NETWORK ${n.name} ${state}: plugin ${n.plugin}${n.vlanMode ? ` (${n.vlanMode})` : ''}${n.ipam && n.ipam !== 'multi-nic-ipam' ? `, ipam ${n.ipam} per NIC` : ''}, config ${n.configStatus}, routes ${n.routeStatus}`);
      if (cidr) {
        const hostReady = new Map(n.hosts.map((h) => [h.hostName, h]));
        const used = new Map(n.hosts.flatMap((h) => h.nics.map((x) => [x.pool, x.used] as const)));
        const pools = listPools(cidr);
        out.push(
          planTable({ name: n.name, cidr, pools, unplaced: [], warnings: [] }, wide, color, (pool, base) => {
            const h = hostReady.get(pool.hostName);
            const route = h?.kernel?.length ? ' routes broken' : n.routeStatus === 'N/A' ? '' : h?.ready ? ' routes ok' : ' routes pending';
            return `${base.replace(/ \(\d[^)]*\)/, '')} ${used.get(pool.name) ?? 0}/${formatCount(pool.capacity)}${route}`;
          }).replace(/^NETWORK [^\n]*\n/, ''),
        );
      }
      for (const p of n.problems) out.push(`  ! ${p}`);
    }
    if (r.networks.length === 0) out.push('', 'no MultiNicNetworks (kubectl multinic apply -f NETWORK.yaml)');
    out.push('');
    out.push(
      renderTable(
        [{ header: 'NODE' }, { header: 'READY' }, { header: 'AGENT' }, { header: 'NIC' }, { header: 'NETWORK' }, { header: 'VENDOR:PRODUCT' }, { header: 'NUMA' }, { header: 'SPEED' }, ...(wide ? [{ header: 'PCI' }, { header: 'MTU' }, { header: 'STATE' }] : [])],
        r.nodes.flatMap((node) => {
          const nics = node.nics.length ? node.nics : [undefined];
          return nics.map((nic, i) => [
            i === 0 ? node.name : '',
            i === 0 ? (node.ready ? 'yes' : 'no') : '',
            i === 0 ? (node.published ? 'published' : 'missing') : '',
            nic?.name ?? '-',
            nic?.netAddress ?? '-',
            nic?.vendor ? `${nic.vendor}:${nic.product ?? '?'}` : '-',
            nic?.numaNode === undefined || nic.numaNode < 0 ? '-' : String(nic.numaNode),
            nic?.speed ? `${nic.speed / 1000}G` : '-',
            ...(wide ? [nic?.pciAddress ?? '-', nic?.mtu ? String(nic.mtu) : '-', nic?.state ?? '-'] : []),
          ]);
        }),
        { color },
      ),
    );
    return out.join('\n');
  }
}
