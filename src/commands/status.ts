import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { objectName, outputFlags } from '../cli/output.js';
import { renderTable, useColor } from '../cli/table.js';
import { formatCount, planTable } from '../cli/views/plan.js';
import { gatherSnapshot, requireInstalled } from '../cluster/snapshot.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { listPools } from '../lib/plan/index.js';
import { type ClusterSnapshot, type ReportPools, type StatusReport, buildStatusReport } from '../lib/status.js';
import { parseDuration } from '../kube/client.js';
import { waitFor } from '../cli/wait.js';
import type { KubeApi } from '../kube/api.js';

export default class StatusCommand extends BaseCommand<typeof StatusCommand> {
  static override summary = 'Show networks (hosts x NICs: pod block, pool use, routes), node NICs and agent readiness.';
  static override description = `Exit 0 when every network is ready and every agent answers, 1 otherwise (scriptable: --wait
waits for readiness first, for CI).

-w/--watch keeps it on screen as the cluster changes, from API watches (no polling): the table is
redrawn in place on a terminal (printed again after a blank line otherwise); with -o json, yaml or
jsonpath one document per change (yaml documents separated by ---), with -o name the networks whose
status changed, as kubectl get -w prints them. Ctrl-C ends it (exit 0). Where the cluster serves
DRA (resource.k8s.io/v1) it also watches ResourceClaims and ResourceSlices, so a NIC a claim
takes or gives back shows at once (CLAIMED BY); a user who may not list them is told once.`;
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status multi-nic-sample -o wide',
    '<%= config.bin %> status --wait --timeout 2m',
    '<%= config.bin %> status -o json',
    '<%= config.bin %> status -w',
    "<%= config.bin %> status -w -o jsonpath='{range .networks[*]}{.name} {.ready}{\"\\n\"}{end}'",
  ];
  static override args = { network: Args.string({ description: 'Only this MultiNicNetwork.' }) };
  static override flags = {
    ...outputFlags({ wide: true, name: true }),
    wait: Flags.boolean({ description: 'Wait until everything is ready (or --timeout passes).', default: false }),
    watch: Flags.boolean({ char: 'w', description: 'Keep watching: print again on every change (API watches), until Ctrl-C.', default: false, exclusive: ['wait'] }),
    timeout: Flags.string({ description: 'How long --wait waits (e.g. 90s, 5m, 1m30s).', default: '2m' }),
  };

  async run(): Promise<StatusReport> {
    const timeoutMs = parseDuration(this.flags.timeout, '--timeout');
    const kube = await this.kube();
    if (this.flags.watch) return this.watch(kube);
    const once = async (): Promise<{ snap: ClusterSnapshot; report: StatusReport; pools: ReportPools }> => {
      await requireInstalled(kube);
      const snap = await gatherSnapshot(kube, { dra: true });
      if (this.args.network && !snap.networks.some((n) => n.metadata.name === this.args.network)) {
        throw new UserError(`MultiNicNetwork "${this.args.network}" not found`, {
          hint: `networks in the cluster: ${snap.networks.map((n) => n.metadata.name).join(', ') || '(none; create one with kubectl multinic apply -f NETWORK.yaml)'}`,
        });
      }
      const pools: ReportPools = new Map();
      return { snap, report: buildStatusReport(snap, this.args.network, pools), pools };
    };
    // --wait waits through a briefly unreachable API; without it, one look.
    const { snap, report, pools } = this.flags.wait
      ? (await waitFor({
          poll: once,
          settled: (v) => v.report.ready,
          terminal: (v) => v.report.networks.flatMap((n) => (n.terminal ? [`${n.name}: ${n.terminal}`] : []))[0],
          line: (v) => (v.report.ready ? 'ready' : `waiting: ${v.report.networks.flatMap((n) => n.problems.map((p) => `${n.name}: ${p}`))[0] ?? 'agents not ready'}`),
          timeoutMs,
          note: (t) => this.note(t),
        })).value
      : await once();
    for (const why of snap.draUnreadable ?? []) this.note(`warning: cannot list ${why}: NICs held by ResourceClaims are not shown`);
    await this.emit({
      data: report,
      human: (wide) => this.human(report, snap, wide, pools),
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

  /**
   * --watch: the report rebuilt from informers (src/ui/feed.ts, the TUI's feed without pods) on
   * every change, printed only when what it prints changed; resolves on SIGINT/SIGTERM.
   */
  private async watch(kube: KubeApi): Promise<StatusReport> {
    await requireInstalled(kube);
    const { ClusterFeed } = await import('../ui/feed.js');
    const feed = new ClusterFeed(kube, { pods: false });
    const output = this.flags.output ?? { format: 'human' as const, wide: false };
    const tty = Boolean(process.stdout.isTTY);
    const write = (t: string) => process.stdout.write(t);
    let last = '';
    let shown = 0;
    let lastNetworks = new Map<string, string>();
    let report: StatusReport | undefined;
    let chain = Promise.resolve();
    return new Promise<StatusReport>((resolve, reject) => {
      let done = false;
      const finish = (err?: unknown) => {
        if (done) return;
        done = true;
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        unsubscribe();
        void feed.stop().then(() => (err ? reject(err) : resolve(report ?? buildStatusReport({ networks: [], cidrs: [], ippools: [], hostInterfaces: [], nodes: [], daemonSets: [] }))));
      };
      const onSignal = () => finish();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const draw = async (snap: ClusterSnapshot): Promise<void> => {
        if (this.args.network && !snap.networks.some((n) => n.metadata.name === this.args.network)) {
          throw new UserError(`MultiNicNetwork "${this.args.network}" not found`, { hint: `networks in the cluster: ${snap.networks.map((n) => n.metadata.name).join(', ') || '(none)'}` });
        }
        const pools: ReportPools = new Map();
        const r = buildStatusReport(snap, this.args.network, pools);
        report = r;
        if (output.format === 'human') {
          const text = this.human(r, snap, output.wide, pools).replace(/\n?$/, '\n');
          if (text === last) return;
          last = text;
          // On a terminal: redraw in place (cursor home, clear screen); elsewhere one rendering after another.
          write(tty ? `\u001b[H\u001b[2J${text}` : `${shown++ ? '\n' : ''}${text}`);
          return;
        }
        const key = JSON.stringify(r);
        if (key === last) return;
        last = key;
        const networks = new Map(r.networks.map((n) => [n.name, JSON.stringify(n)]));
        const changed = [...networks].filter(([name, json]) => lastNetworks.get(name) !== json).map(([name]) => name);
        lastNetworks = networks;
        if (output.format === 'name' && changed.length === 0) return;
        if (output.format === 'yaml' && shown > 0) write('---\n');
        shown++;
        await this.emit({
          data: r,
          human: () => '',
          names: () => changed.map((name) => objectName({ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', metadata: { name } })),
        });
      };
      const unsubscribe = feed.subscribe({
        data: (d) => {
          chain = chain.then(() => draw(d.snapshot)).catch((e: unknown) => finish(e));
        },
        error: (message) => this.note(`warning: watch: ${message}`),
      });
    });
  }

  private human(r: StatusReport, snap: ClusterSnapshot, wide: boolean, reported: ReportPools): string {
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
        const known = reported.get(n.name);
        const pools = known?.cidr === cidr ? known.pools : listPools(cidr);
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
    // DRA: a CLAIMED BY column as soon as a ResourceClaim holds a NIC (docs/dra.md).
    const claims = r.nodes.some((n) => n.nics.some((x) => x.claim));
    out.push(
      renderTable(
        [{ header: 'NODE' }, { header: 'READY' }, { header: 'AGENT' }, { header: 'NIC' }, { header: 'NETWORK' }, { header: 'VENDOR:PRODUCT' }, { header: 'NUMA' }, { header: 'SPEED' }, ...(wide ? [{ header: 'PCI' }, { header: 'MTU' }, { header: 'STATE' }] : []), ...(claims ? [{ header: 'CLAIMED BY' }] : [])],
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
            ...(claims ? [nic?.claim ? `${(nic.claimedBy ?? []).join(',') || '-'} (claim ${nic.claim})` : '-'] : []),
          ]);
        }),
        { color },
      ),
    );
    return out.join('\n');
  }
}
