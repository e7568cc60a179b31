import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { outputFlags } from '../../cli/output.js';
import { gatherDoctorSnapshot, requireInstalled } from '../../cluster/snapshot.js';
import { ExitCode, UserError } from '../../lib/errors.js';
import { parseDuration } from '../../kube/client.js';

/** One allocation and what became of it. */
export interface IpamReleaseItem {
  address: string;
  network: string;
  node: string;
  pool: string;
  pod: string;
  podUID: string;
  containerID: string;
  interface: string;
  /** released: the agent released it; not-held: already free; refused: kept (reason); would-release: --dry-run; no-answer: the agent did not answer in time. */
  outcome: 'released' | 'not-held' | 'refused' | 'would-release' | 'no-answer';
  reason?: string;
}

export interface IpamReleaseReport {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'IpamReleaseReport';
  dryRun: boolean;
  force: boolean;
  items: IpamReleaseItem[];
}

export default class IpamReleaseCommand extends BaseCommand<typeof IpamReleaseCommand> {
  static override summary = 'Release leaked addresses through their node\'s agent (refuses addresses whose pod is alive unless --force).';
  static override description = `Releases ADDRESS... (or, with --leaked, every allocation whose pod no longer exists) by asking the
agent of the node that owns each address, through the API (a request annotation on its HostInterface,
answered in its status with the request's nonce): the agent releases from its own journal, so the
journal stays the one source of truth and the IPPool follows. The CLI needs no access to the node.

An address whose pod still exists (checked against the API here, and against the agent's pod cache
there) is refused unless --force. The agent releases only the very allocation seen here (same pod UID,
container and interface): an address given to another pod meanwhile is refused. --dry-run shows what
would be released and asks nobody. --leaked acts only with --yes.

Exit 0 when everything asked for is released (or already free), 1 when something was refused or an
agent did not answer, 2 on bad input, 3 cluster unreachable.`;
  static override examples = [
    '<%= config.bin %> ipam release 192.168.0.5',
    '<%= config.bin %> ipam release --leaked --dry-run',
    '<%= config.bin %> ipam release --leaked --yes --node host2 -o json',
    '<%= config.bin %> ipam release 192.168.0.5 --network multi-nic-sample --force',
  ];
  static override strict = false;
  static override args = {
    address: Args.string({ description: 'Addresses to release (as ipam show -o wide lists them).' }),
  };
  static override flags = {
    ...outputFlags(),
    leaked: Flags.boolean({ description: 'Release every allocation whose pod no longer exists (or was replaced or terminated).', default: false }),
    yes: Flags.boolean({ char: 'y', description: 'Confirm --leaked (it may release many addresses).', default: false }),
    force: Flags.boolean({ description: 'Release even when the pod holding the address is alive.', default: false }),
    'dry-run': Flags.boolean({ description: 'Show what would be released; change nothing.', default: false }),
    network: Flags.string({ description: 'Only this MultiNicNetwork.' }),
    node: Flags.string({ description: 'Only this node.' }),
    timeout: Flags.string({ description: 'How long to wait for the agents (the probe before, and each answer).', default: '10s' }),
  };

  async run(): Promise<IpamReleaseReport> {
    const addresses = this.positional;
    const timeoutMs = parseDuration(this.flags.timeout);
    const { checkReleaseInput, planRelease, ReleasePlanError } = await import('../../lib/doctor/release-plan.js');
    // Bad input fails before the cluster is asked anything.
    try {
      checkReleaseInput({ addresses, leaked: this.flags.leaked });
    } catch (e) {
      if (e instanceof ReleasePlanError) throw new UserError(e.message, { hint: e.hint });
      throw e;
    }
    if (this.flags.leaked && !this.flags.yes && !this.flags['dry-run']) {
      throw new UserError('--leaked releases every leaked allocation it finds: add --yes to confirm', { hint: 'see what it would release first: kubectl multinic ipam release --leaked --dry-run' });
    }
    const kube = await this.kube();
    await requireInstalled(kube);
    const snap = await gatherDoctorSnapshot(kube, { cliVersion: this.config.version, node: this.flags.node, probeTimeoutMs: Math.min(timeoutMs, 5000) });
    for (const [flag, value, known] of [
      ['--network', this.flags.network, snap.networks.map((n) => n.metadata.name ?? '')],
      ['--node', this.flags.node, snap.hostInterfaces.map((h) => h.metadata.name ?? '')],
    ] as const) {
      if (value && !known.includes(value)) throw new UserError(`${flag} ${value}: not found`, { hint: `known: ${known.join(', ') || '(none)'}` });
    }
    let plan;
    try {
      plan = planRelease(snap, { addresses, leaked: this.flags.leaked, force: this.flags.force, network: this.flags.network, node: this.flags.node });
    } catch (e) {
      if (e instanceof ReleasePlanError) throw new UserError(e.message, { hint: e.hint });
      throw e;
    }
    const item = (p: (typeof plan)[number], outcome: IpamReleaseItem['outcome'], reason?: string): IpamReleaseItem => ({
      address: p.address, network: p.network, node: p.node, pool: p.pool, pod: p.pod, podUID: p.podUID, containerID: p.containerID, interface: p.interface, outcome, ...(reason ? { reason } : {}),
    });
    const items: IpamReleaseItem[] = plan.filter((p) => p.action === 'refused').map((p) => item(p, 'refused', p.reason));
    const go = plan.filter((p) => p.action === 'release');
    if (this.flags['dry-run']) {
      items.push(...go.map((p) => item(p, 'would-release', p.reason)));
    } else if (go.length) {
      const { requestReleases } = await import('../../cluster/release.js');
      const byNode = new Map<string, typeof go>();
      for (const p of go) byNode.set(p.node, [...(byNode.get(p.node) ?? []), p]);
      const answers = await requestReleases(kube, new Map([...byNode].map(([n, ps]) => [n, ps.map(({ network, pool, address, podUID, containerID, interface: ifc }) => ({ network, pool, address, podUID, containerID, interface: ifc }))])), { force: this.flags.force, timeoutMs, note: (t) => this.note(t) });
      for (const p of go) {
        const mine = answers.filter((a) => a.node === p.node);
        const r = mine.flatMap((a) => a.answer?.results ?? []).find((x) => x.pool === p.pool && x.address === p.address && x.podUID === p.podUID && x.containerID === p.containerID && x.interface === p.interface);
        if (r) {
          items.push(item(p, r.outcome, r.reason));
          continue;
        }
        const failed = mine.find((a) => a.error || a.answer?.error);
        items.push(item(p, 'no-answer', failed?.error
          ? `could not ask the agent on ${p.node}: ${failed.error}`
          : failed?.answer?.error
            ? `the agent on ${p.node} could not read the request: ${failed.answer.error}`
            : `the agent on ${p.node} did not answer within ${this.flags.timeout}; the request stays on HostInterface ${p.node} and is acted on when the agent runs (kubectl multinic doctor --node ${p.node})`));
      }
    }
    items.sort((a, b) => (a.node + a.pool + a.address < b.node + b.pool + b.address ? -1 : 1));
    const report: IpamReleaseReport = { apiVersion: 'multinic.fms.io/v1', kind: 'IpamReleaseReport', dryRun: this.flags['dry-run'], force: this.flags.force, items };
    await this.emit({ data: report, human: () => releaseText(report) });
    if (items.some((i) => i.outcome === 'refused' || i.outcome === 'no-answer')) this.exit(ExitCode.Problems);
    return report;
  }
}

const VERB: Record<IpamReleaseItem['outcome'], string> = { released: 'released', 'not-held': 'already free', refused: 'refused', 'would-release': 'would release', 'no-answer': 'not released' };

function releaseText(r: IpamReleaseReport): string {
  if (r.items.length === 0) return r.dryRun ? 'ipam release: nothing to release (no leaked allocation)' : 'ipam release: nothing to release (no leaked allocation)';
  const count = (o: IpamReleaseItem['outcome']) => r.items.filter((i) => i.outcome === o).length;
  const head = r.dryRun
    ? `ipam release (dry run): ${count('would-release')} would be released, ${count('refused')} refused`
    : `ipam release: ${count('released')} released, ${count('not-held')} already free, ${count('refused')} refused, ${count('no-answer')} not answered`;
  const lines = r.items.map((i) => `  ${VERB[i.outcome]} ${i.address} (${i.network}, ${i.node}, pool ${i.pool}, pod ${i.pod} ${i.interface})${i.reason && i.outcome !== 'released' ? `: ${i.reason}` : ''}`);
  return [head, ...lines].join('\n');
}
