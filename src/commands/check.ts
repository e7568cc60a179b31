import { writeFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { outputFlags } from '../cli/output.js';
import { gatherNetworks, hostsBySelector, requireDraClasses } from '../check/gather.js';
import { INTERRUPTED_EXIT, onInterrupt } from '../check/interrupt.js';
import { Progress } from '../check/progress.js';
import { runCheck } from '../check/run.js';
import { renderSummary } from '../check/summary.js';
import { renderJunit } from '../lib/check/junit.js';
import { planCheck, validateCheckOptions } from '../lib/check/plan.js';
import { RUN_LABEL } from '../lib/check/pods.js';
import { buildReport, reportExitCode } from '../lib/check/report.js';
import type { AttachVia, CheckOptions, CheckReport, PairMode } from '../lib/check/types.js';
import { UserError } from '../lib/errors.js';
import { defaultImage } from '../lib/install/render.js';

/** Machine shape of `kubectl multinic check -o json|yaml` (schema: schemas/checkreport.json). */
export type CheckResult = CheckReport;

const list = (values: string[] | undefined): string[] => [...new Set((values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean))];

function number(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!text.trim() || !Number.isFinite(n)) throw new UserError(`invalid --${flag}: "${text}" is not a number`, { hint: `e.g. --${flag} ${flag === 'tolerance' ? '0.2' : '25'}` });
  return n;
}

export default class CheckCommand extends BaseCommand<typeof CheckCommand> {
  static override summary = 'Test connectivity and bandwidth over every NIC with iperf3 pods.';
  static override description = `For each network (or --network), each host pair (--pairs, --nodes, --node-selector) and each NIC: an iperf3 server pod on the server host and a client pod on the client host, both attached to the network and pinned to that NIC (cni-args masters); the client binds the pod NIC (--bind-dev) and sends for --duration seconds. A host pair's NICs are tested at the same time, so its aggregate is a real simultaneous figure.

Each result is compared with what is expected: --expect-gbps, else the link speed the HostInterface reports for PCI NICs (virtual NICs such as veth report a nominal speed and are not judged on bandwidth), minus --tolerance. Failures name the host pair, the NIC, the likely cause (no route, no address, wrong interface used, ...) and a hint.

With --via claim (DRA, install --dra, docs/dra.md) each pod gets the NIC under test through a ResourceClaim of the network's DeviceClass (<network>.multinic.fms.io, one device whose interfaceName is that NIC) instead of cni-args, is placed on its host by node affinity so the scheduler allocates the claim there, and its address is read from the claim's status.devices (KEP-4817), which the agent writes after the ADD: the kubelet's Prepare, the agent's claimed-NIC attach and the claim status are then on the tested path. The run's ResourceClaimTemplates are deleted with its pods; the claims go with their pods.

Pods run in -n NAMESPACE (the network's NetworkAttachmentDefinition must exist there) and are always deleted at the end, on failure and on Ctrl-C, unless --keep-pods. Exit 0 when every test passes, 1 when any fails, 2 on bad input, 3 when the cluster cannot be reached.`;
  static override examples = [
    '<%= config.bin %> check',
    '<%= config.bin %> check --network multi-nic-sample --pairs ring --duration 10 --parallel 4',
    '<%= config.bin %> check --nodes gpu-1,gpu-2 --expect-gbps 100 --tolerance 0.1 --junit-file check.xml',
    "<%= config.bin %> check --test '*/nic0' -o json",
    '<%= config.bin %> check --via claim --network multi-nic-sample',
    '<%= config.bin %> check --image registry.local/tools/iperf3:3.16 --port-base 30000',
  ];
  static override flags = {
    network: Flags.string({ description: 'Network(s) to check (repeatable or comma-separated; default: all).', multiple: true }),
    nodes: Flags.string({ description: 'Only these hosts (comma-separated).', multiple: true }),
    'node-selector': Flags.string({ description: 'Only hosts whose Node matches this label selector (e.g. gpu=true).' }),
    pairs: Flags.option({ description: 'Host pairs: all ordered pairs, a ring (each host to the next), or a star (every host to the first).', options: ['all', 'ring', 'star'] as const, default: 'all' as const })(),
    duration: Flags.integer({ description: 'Seconds each iperf3 test sends.', default: 5 }),
    parallel: Flags.integer({ description: 'Parallel TCP streams per test (iperf3 -P).', default: 1 }),
    concurrency: Flags.integer({ description: 'Host pairs tested at the same time (pairs sharing a host never overlap).', default: 2 }),
    'expect-gbps': Flags.string({ description: 'Expected Gbit/s per NIC (default: the link speed of PCI NICs).' }),
    tolerance: Flags.string({ description: 'Accepted shortfall against the expectation (0-1).', default: '0.2' }),
    test: Flags.string({ description: "Only tests whose id matches this glob; ids are NETWORK/CLIENT->SERVER/nicI (e.g. '*/nic0')." }),
    image: Flags.string({ description: 'Image with iperf3 >= 3.10 (default: the agent image, already on every node).' }),
    'port-base': Flags.integer({ description: 'First iperf3 server port; each server on a host gets its own.', default: 5201 }),
    'junit-file': Flags.string({ description: 'Also write the results as JUnit XML to this file (for CI).' }),
    via: Flags.option({ description: 'How the pods get the NIC: the Multus annotation (cni-args masters), or a DRA ResourceClaim (install --dra).', options: ['annotation', 'claim'] as const, default: 'annotation' as const })(),
    'keep-pods': Flags.boolean({ description: 'Leave the check pods for inspection.', default: false }),
    ...outputFlags({ wide: true }),
  };

  async run(): Promise<CheckResult> {
    const f = this.flags;
    const opts: CheckOptions = validateCheckOptions({
      networks: list(f.network),
      nodes: list(f.nodes),
      nodeSelector: f['node-selector'],
      pairs: f.pairs as PairMode,
      duration: f.duration,
      parallel: f.parallel,
      concurrency: f.concurrency,
      expectGbps: number('expect-gbps', f['expect-gbps']),
      tolerance: number('tolerance', f.tolerance) ?? 0.2,
      test: f.test,
      image: f.image ?? defaultImage(this.config.version),
      portBase: f['port-base'],
      namespace: f.namespace ?? '',
      keepPods: f['keep-pods'],
      via: f.via as AttachVia,
    });
    const api = await this.kube();
    await api.version();
    opts.namespace ||= api.namespace;
    const networks = await gatherNetworks(api, opts.networks);
    if (opts.via === 'claim') await requireDraClasses(api, networks.map((n) => n.name));
    const selected = opts.nodeSelector ? await hostsBySelector(api, opts.nodeSelector) : undefined;
    const plan = planCheck(networks, opts, selected);

    const progress = new Progress(process.stderr);
    const ctl = new AbortController();
    let runId: string | undefined;
    const off = onInterrupt(ctl, (t) => {
      progress.finish();
      this.note(t);
    }, () => runId);
    let outcome;
    try {
      outcome = await runCheck(api, plan, opts, {
        signal: ctl.signal,
        onEvent: (e) => {
          if (e.type === 'start') runId = e.runId;
          progress.onEvent(e);
        },
      });
    } finally {
      progress.finish();
      off();
    }
    const report = buildReport(plan, outcome.results, opts, { runId: outcome.runId, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt, interrupted: outcome.interrupted });
    if (f['junit-file']) {
      try {
        await writeFile(f['junit-file'], renderJunit(report));
      } catch (e) {
        throw new UserError(`cannot write --junit-file ${f['junit-file']}: ${(e as Error).message}`, { hint: 'give a writable path' });
      }
    }
    await this.emit({ data: report, human: (wide) => renderSummary(report, { wide }) });
    if (outcome.leftovers.length) {
      this.note(`${opts.keepPods ? 'kept' : 'warning: could not delete'} ${outcome.leftovers.length} pod(s): ${outcome.leftovers.join(', ')}`);
      this.note(`hint: kubectl -n ${opts.namespace} delete pods -l ${RUN_LABEL}=${outcome.runId}`);
    }
    if (outcome.interrupted) this.exit(INTERRUPTED_EXIT);
    if (reportExitCode(report) !== 0) this.exit(reportExitCode(report));
    return report;
  }
}
