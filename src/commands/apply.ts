import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { readAllDocs } from '../cli/files.js';
import { objectName, outputFlags } from '../cli/output.js';
import { useColor } from '../cli/table.js';
import { planTable } from '../cli/views/plan.js';
import { applyObject } from '../cluster/apply-object.js';
import { adoptPlannedCidr, deletePlannedCidr, seedPlannedCidr } from '../cluster/planned-cidr.js';
import { gatherSnapshot, requireInstalled } from '../cluster/snapshot.js';
import type { KubeApi } from '../kube/api.js';
import { parseDuration } from '../kube/client.js';
import { waitFor } from '../cli/wait.js';
import type { CIDR, HostInterface, IPPool, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { ExitCode, UserError } from '../lib/errors.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { R, type ResourceRef } from '../lib/k8s/resources.js';
import { ManifestError, describeObject } from '../lib/manifest.js';
import { type ValidatedNetwork, attachMode, checkSubnetOverlaps, liveModeChange, parseNetworkManifests, validateNetworkForInventory } from '../lib/network.js';
import { listPools } from '../lib/plan/index.js';
import { buildStatusReport, type StatusReport } from '../lib/status.js';
import { networkDeviceClass } from '../lib/dra/slices.js';
import { isNotFound } from '../kube/api.js';

/** Whether the cluster serves resource.k8s.io/v1 DeviceClasses (Kubernetes 1.34+); older ones get none. */
async function servesDra(kube: KubeApi): Promise<boolean> {
  try {
    await kube.list(R.DraDeviceClass);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

export interface ApplyResult {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'ApplyResult';
  /** apiVersion with kind names the type: DeviceClass is a kind of both multinic.fms.io and resource.k8s.io. */
  objects: Array<{ apiVersion: string; kind: string; name: string; action: 'created' | 'configured' | 'unchanged' }>;
  /** Present when --wait ran. */
  status?: StatusReport;
  cidrs: CIDR[];
}

export default class ApplyCommand extends BaseCommand<typeof ApplyCommand> {
  static override summary = 'Validate and apply MultiNicNetworks and DeviceClasses, then wait until the agents have carved and routed them.';
  static override description = `Validates every document with the same rules as 'plan' (exit 2 on bad input, nothing applied), runs
a server-side dry run, creates or updates the objects, then waits until every agent has published its interfaces, claimed its
blocks in the network's CIDR and reported its routes (--no-wait to skip), and prints the resulting plan.

The plan is the contract: a network this apply creates gets its CIDR written from the plan first, so every host known now gets
the host indexes 'kubectl multinic plan' printed; hosts that join later claim free indexes and move nobody.

On a cluster that serves resource.k8s.io/v1 (Kubernetes 1.34+) each network also gets a DRA DeviceClass
<network>.multinic.fms.io selecting the NICs that serve it, for ResourceClaims (docs/dra.md).

A network whose subnet overlaps another network's (in the files or already in the cluster) is refused (exit 2). So is a change
of a network's attach mode (plugin type, its mode, or vlanMode) while pods hold addresses in it, unless --force.`;
  static override examples = [
    '<%= config.bin %> apply -f examples/network.yaml',
    '<%= config.bin %> apply -f network.yaml -f deviceclass.yaml --timeout 5m',
    '<%= config.bin %> apply -f network.yaml --dry-run=server',
  ];
  static override flags = {
    filename: Flags.string({ char: 'f', description: 'Manifest file (YAML or JSON, multi-document; - for stdin).', required: true, multiple: true }),
    wait: Flags.boolean({ description: 'Wait until the networks are ready.', default: true, allowNo: true }),
    timeout: Flags.string({ description: 'How long to wait (e.g. 90s, 5m, 1m30s).', default: '2m' }),
    'dry-run': Flags.option({ options: ['none', 'server'] as const, default: 'none' as const, description: 'server: validate on the server (dryRun=All) and change nothing.' })(),
    ...outputFlags({ wide: true, name: true }),
    force: Flags.boolean({ description: 'Change the attach mode (plugin type, mode, vlanMode) of a network even while pods hold addresses in it.', default: false }),
  };

  async run(): Promise<ApplyResult> {
    const f = this.flags;
    const manifests = parseNetworkManifests(await readAllDocs(f.filename));
    const bad = manifests.others[0];
    if (bad) throw new ManifestError(bad.source, `${describeObject(bad.value)} is not a MultiNicNetwork or DeviceClass`, 'apply takes multinic.fms.io/v1 MultiNicNetwork and DeviceClass objects; use kubectl apply for anything else');
    const { networks } = manifests;
    const objects: Array<{ ref: ResourceRef; obj: KubeObject }> = manifests.objects.map((o) =>
      o.kind === 'MultiNicNetwork' ? { ref: R.MultiNicNetwork, obj: o.network.resource as unknown as KubeObject } : { ref: R.DeviceClass, obj: o.deviceClass as unknown as KubeObject },
    );
    if (objects.length === 0) throw new UserError(`no objects in ${f.filename.join(', ')}`, { hint: 'pass a file with MultiNicNetwork or DeviceClass documents' });
    checkSubnetOverlaps(networks);
    const kube = await this.kube();
    await requireInstalled(kube);
    const hosts = (await kube.list<HostInterface>(R.HostInterface)).items;
    for (const n of networks) validateNetworkForInventory(n, hosts);
    const live = (await kube.list<MultiNicNetwork>(R.MultiNicNetwork)).items;
    checkSubnetOverlaps(networks, live);
    await this.checkModeChanges(kube, networks, live);
    // DRA: a resource.k8s.io/v1 DeviceClass per network (docs/dra.md), where the cluster serves it.
    if (networks.length && (await servesDra(kube))) for (const n of networks) objects.push({ ref: R.DraDeviceClass, obj: networkDeviceClass(n.name) as unknown as KubeObject });

    // Server-side dry run of everything first: nothing is written unless all of it would be accepted.
    for (const o of objects) await this.write(kube, o.ref, o.obj, true);
    const applied: ApplyResult['objects'] = [];
    if (f['dry-run'] === 'server') {
      for (const o of objects) this.note(`${o.ref.plural}.${o.ref.group}/${o.obj.metadata?.name} valid (server dry run)`);
      return { apiVersion: 'multinic.fms.io/v1', kind: 'ApplyResult', objects: applied, cidrs: [] };
    }
    // plan == apply: networks this apply creates get their CIDR from the plan first (see
    // src/cluster/planned-cidr.ts), so agents adopt the planned indexes instead of racing for them.
    const liveNames = new Set(live.map((n) => n.metadata.name ?? ''));
    const seeded = new Set<string>();
    for (const n of networks) {
      if (liveNames.has(n.name)) continue;
      const s = await seedPlannedCidr(kube, n, hosts);
      if (s.action === 'created') seeded.add(n.name);
    }
    for (const o of objects) {
      let action: 'created' | 'configured' | 'unchanged';
      const name = o.obj.metadata?.name ?? '';
      try {
        action = await this.write(kube, o.ref, o.obj, false);
      } catch (e) {
        if (o.ref === R.MultiNicNetwork && seeded.has(name)) await deletePlannedCidr(kube, name).catch(() => undefined);
        throw e;
      }
      if (o.ref === R.MultiNicNetwork && seeded.has(name)) {
        const net = await kube.get<MultiNicNetwork>(R.MultiNicNetwork, name);
        if (net) await adoptPlannedCidr(kube, net);
      }
      applied.push({ apiVersion: o.obj.apiVersion ?? '', kind: o.obj.kind ?? '', name: o.obj.metadata?.name ?? '', action });
      this.note(`${o.obj.kind?.toLowerCase()}.${o.ref.group}/${o.obj.metadata?.name} ${action}`);
    }
    const names = new Set(networks.map((n) => n.name));
    let status: StatusReport | undefined;
    if (f.wait && names.size > 0) status = await this.waitReady(kube, names, parseDuration(f.timeout));
    const snap = await gatherSnapshot(kube);
    const cidrs = snap.cidrs.filter((c) => names.has(c.metadata.name ?? ''));
    const result: ApplyResult = { apiVersion: 'multinic.fms.io/v1', kind: 'ApplyResult', objects: applied, ...(status ? { status } : {}), cidrs };
    const color = useColor(process.stdout, f['no-color'], process.env);
    await this.emit({
      data: result,
      human: (wide) => cidrs.map((c) => planTable({ name: c.metadata.name ?? '', cidr: c, pools: listPools(c), unplaced: [], warnings: [] }, wide, color).replace(/\n?$/, '\n')).join(''),
      // The objects written, as kubectl apply -o name prints them.
      names: () => objects.map((o) => objectName(o.obj)),
    });
    if (status && !status.networks.every((n) => n.ready)) this.exit(ExitCode.Problems);
    return result;
  }

  /**
   * Refuses (or with --force, warns about) an attach-mode change of a network pods are attached to;
   * see liveModeChange. Reads the IPPools only when some network's mode changes.
   */
  private async checkModeChanges(kube: KubeApi, networks: readonly ValidatedNetwork[], live: readonly MultiNicNetwork[]): Promise<void> {
    const byName = new Map(live.map((n) => [n.metadata.name ?? '', n]));
    let pools: IPPool[] | undefined;
    for (const n of networks) {
      const old = byName.get(n.name);
      if (!old || attachMode(old) === attachMode(n.resource)) continue;
      pools ??= (await kube.list<IPPool>(R.IPPool)).items;
      const refusal = liveModeChange(n, old, pools);
      if (!refusal) continue;
      if (!this.flags.force) throw new UserError(refusal.message, { hint: refusal.hint });
      this.note(`warning: ${refusal.message} (applied anyway: --force)`);
    }
  }

  /** Writes one object by the rule install uses too (src/cluster/apply-object.ts), in kubectl's words. */
  private async write(kube: KubeApi, ref: ResourceRef, obj: KubeObject, dryRun: boolean): Promise<'created' | 'configured' | 'unchanged'> {
    const desired: KubeObject = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata?.name ?? '', labels: obj.metadata?.labels, annotations: obj.metadata?.annotations }, spec: obj.spec };
    const { action } = await applyObject(kube, desired, { dryRun, ref });
    return action === 'create' ? 'created' : action === 'update' ? 'configured' : 'unchanged';
  }

  /**
   * Waits until the applied networks are ready; progress on stderr. Stops at once when one of them
   * cannot become ready as specified (e.g. its subnet overlaps another network's).
   */
  private async waitReady(kube: KubeApi, names: Set<string>, timeoutMs: number): Promise<StatusReport> {
    const mine = (r: StatusReport) => r.networks.filter((n) => names.has(n.name));
    const waiting = (r: StatusReport) => mine(r).flatMap((n) => n.problems.map((p) => `${n.name}: ${p}`));
    const r = await waitFor({
      poll: async () => buildStatusReport(await gatherSnapshot(kube)),
      settled: (rep) => waiting(rep).length === 0,
      terminal: (rep) => mine(rep).flatMap((n) => (n.terminal ? [`${n.name}: ${n.terminal}`] : []))[0],
      line: (rep) => {
        const agents = rep.agents.daemonSet ? `agents ${rep.agents.ready}/${rep.agents.desired}` : 'agents not installed';
        const w = waiting(rep);
        return w.length === 0 ? `ready: ${[...names].join(', ')} (${agents})` : `waiting (${agents}): ${w[0]}${w.length > 1 ? ` (+${w.length - 1} more)` : ''}`;
      },
      timeoutMs,
      note: (t) => this.note(t),
    });
    if (r.outcome === 'terminal') {
      this.note(`error: stopped waiting: ${r.reason}`);
      this.note('hint: waiting cannot fix this; change the network (kubectl multinic plan -f FILE shows the conflict) and apply again');
    } else if (r.outcome === 'timeout') {
      this.note(`error: not ready after ${this.flags.timeout}:`);
      for (const w of waiting(r.value)) this.note(`  ${w}`);
      this.note('hint: kubectl multinic status shows the details; the agent logs and Events say why');
    }
    return r.value;
  }
}
