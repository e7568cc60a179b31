import { Flags } from '@oclif/core';
import { BaseCommand, type BaseFlags } from '../cli/base.js';
import { readAllDocs, readDocs } from '../cli/files.js';
import { outputFlags } from '../cli/output.js';
import { useColor } from '../cli/table.js';
import { planTable, routesTable, type PlannedNetwork } from '../cli/views/plan.js';
import { requireInstalled } from '../cluster/snapshot.js';
import { listCidrViews } from '../cluster/cidr-view.js';
import type { KubeApi } from '../kube/api.js';
import type { CIDR, HostInterface } from '../lib/crds/types.gen.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { parseInventory } from '../lib/inventory.js';
import { describeObject, ManifestError } from '../lib/manifest.js';
import { R } from '../lib/k8s/resources.js';
import { MULTI_NIC_IPAM, checkSubnetOverlaps, parseNetworkManifests, validateNetworkForInventory } from '../lib/network.js';
import { parsePreviousCidrs, planNetwork } from '../lib/plan/index.js';
import { checkPool } from '../lib/pool-check.js';
import { routePlan, type RoutePlan } from '../lib/routes.js';

export type { PlannedNetwork } from '../cli/views/plan.js';

/** What `kubectl multinic plan` computed (returned by run() for tests and callers). */
export interface PlanCommandResult {
  networks: PlannedNetwork[];
  /** Names of the DeviceClasses that were validated alongside. */
  deviceClasses: string[];
  exitCode: ExitCode;
}

/** The inputs `plan` needs beyond the -f documents. */
export interface PlanInputs {
  inventory: HostInterface[];
  /** Previous CIDRs by network name. */
  previous: Map<string, CIDR>;
}

type PlanFlags = BaseFlags<typeof PlanCommand>;

/**
 * Gathers the inventory and previous plans: from files when --inventory is given (offline, no
 * cluster touched), else the HostInterfaces and CIDRs in the cluster (the kubectl flags select it).
 */
export async function gatherInputs(flags: Pick<PlanFlags, 'inventory' | 'previous'>, kube: () => Promise<KubeApi>): Promise<PlanInputs> {
  if (flags.inventory) {
    const inventory = parseInventory(await readDocs(flags.inventory));
    const previous = flags.previous ? parsePreviousCidrs(await readDocs(flags.previous)) : new Map<string, CIDR>();
    return { inventory, previous };
  }
  const api = await kube();
  await requireInstalled(api);
  // The CIDRs with their claims: the plan keeps every index a host holds, as the agents do.
  const [hosts, cidrs] = await Promise.all([api.list<HostInterface>(R.HostInterface), listCidrViews(api)]);
  if (hosts.items.length === 0) {
    throw new UserError(`no HostInterfaces in the cluster at ${api.server}: no agent has published its NICs yet`, {
      hint: 'check the agents (kubectl multinic status), or plan offline with --inventory HOSTS.yaml',
    });
  }
  const inventory = parseInventory(hosts.items.map((h, i) => ({ source: `cluster HostInterface #${i + 1}`, value: h })));
  const previous = flags.previous
    ? parsePreviousCidrs(await readDocs(flags.previous))
    : new Map(cidrs.map((c) => [c.metadata.name ?? '', c] as const));
  return { inventory, previous };
}

export default class PlanCommand extends BaseCommand<typeof PlanCommand> {
  static override summary = 'Compute the address plan (CIDR) of networks over the hosts in the cluster, or offline over an inventory file.';
  static override description = `Validates MultiNicNetwork (and DeviceClass) manifests, carves each network's subnet into one block per NIC network and one pod block per host (design §3.2), checks the NIC pool and prints the plan. -o json|yaml prints the CIDR resource(s) apply would write; --routes prints the host routes instead.

Two networks whose subnets overlap are bad input: their policy rules would claim each other's addresses.

Exit codes: 0 planned; 1 some hosts did not fit (the plan for the others is printed); 2 bad input.`;
  static override examples = [
    '<%= config.bin %> plan -f examples/network.yaml --inventory examples/hosts.yaml',
    '<%= config.bin %> plan -f examples/network.yaml   # over the hosts the agents published',
    '<%= config.bin %> plan -f examples/network.yaml --inventory examples/hosts.yaml -o yaml',
    '<%= config.bin %> plan -f examples/network.yaml --inventory examples/hosts.yaml --routes',
    'kubectl get hostinterfaces -o yaml > hosts.yaml && <%= config.bin %> plan -f - --inventory hosts.yaml < network.yaml',
  ];
  static override flags = {
    filename: Flags.string({ char: 'f', description: 'MultiNicNetwork/DeviceClass manifest (YAML or JSON, multi-document; - for stdin). Repeatable.', required: true, multiple: true }),
    inventory: Flags.string({ description: 'HostInterface objects (v1 List, multi-document YAML, or `kubectl get hostinterfaces -o yaml` output). Without it, the HostInterfaces and CIDRs of the cluster are used.' }),
    previous: Flags.string({ description: 'CIDR(s) of an earlier plan: existing host and interface indexes are kept.' }),
    routes: Flags.boolean({ description: 'Print the host routes (RoutePlan) instead of the address plan.', default: false }),
    ...outputFlags({ wide: true, name: true }),
  };

  async run(): Promise<PlanCommandResult> {
    const flags = this.flags;
    const manifests = parseNetworkManifests(await readAllDocs(flags.filename));
    const bad = manifests.others[0];
    if (bad) throw new ManifestError(bad.source, `expected a MultiNicNetwork or DeviceClass, got ${describeObject(bad.value)}`, 'pass manifests with apiVersion: multinic.fms.io/v1 and kind: MultiNicNetwork (or DeviceClass) to -f');
    const { networks } = manifests;
    const deviceClasses = manifests.deviceClasses.map((d) => d.metadata.name ?? '');
    if (networks.length === 0) throw new UserError(`no MultiNicNetwork in ${flags.filename.join(', ')}`, { hint: 'pass a MultiNicNetwork manifest with -f (see examples/network.yaml)' });
    checkSubnetOverlaps(networks);
    const plannable = networks.filter((n) => n.ipam.type === MULTI_NIC_IPAM);
    for (const n of networks) if (n.ipam.type !== MULTI_NIC_IPAM) this.note(`note: ${n.source}: network "${n.name}" uses ipam type "${n.ipam.type}": it has no address plan, skipped`);
    if (plannable.length === 0) throw new UserError(`no network uses ipam type "${MULTI_NIC_IPAM}": nothing to plan`, { hint: `set "type": "${MULTI_NIC_IPAM}" in spec.ipam to have addresses planned` });

    const inputs = await gatherInputs(flags, () => this.kube());
    for (const n of plannable) validateNetworkForInventory(n, inputs.inventory);
    const planned: PlannedNetwork[] = plannable.map((n) => {
      const r = planNetwork({ network: n, inventory: inputs.inventory, previous: inputs.previous.get(n.name) });
      return { name: n.name, cidr: r.cidr, pools: r.pools, unplaced: r.unplaced, warnings: [...r.warnings, ...checkPool(n, inputs.inventory)] };
    });
    const exitCode = planned.some((p) => p.unplaced.length > 0) ? ExitCode.Problems : ExitCode.Ok;

    const machine = flags.output && flags.output.format !== 'human';
    const items: Array<CIDR | RoutePlan> = machine ? planned.map((p) => (flags.routes ? routePlan(p.cidr) : p.cidr)) : [];
    const color = useColor(process.stdout, flags['no-color'], process.env);
    await this.emit({
      data: items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items },
      human: (wide) => planned.map((p) => (flags.routes ? routesTable(p, color) : planTable(p, wide, color))).join('\n'),
      // A RoutePlan is named after its network, as the CIDR is.
      names: () => items.map((i) => `${i.kind.toLowerCase()}.multinic.fms.io/${'network' in i ? i.network : (i.metadata.name ?? '')}`),
    });
    for (const p of planned) {
      for (const w of p.warnings) this.note(`warning: ${p.name}: ${w.message} [${w.code}]`);
      for (const u of p.unplaced) this.note(`error: ${p.name}: ${u.hostName}/${u.interfaceName} on ${u.netAddress} was not placed: ${u.reason}`);
    }
    if (exitCode !== ExitCode.Ok) {
      const n = planned.reduce((s, p) => s + new Set(p.unplaced.map((u) => u.hostName)).size, 0);
      this.note(`error: ${n} host(s) did not fit; the plan above covers the others`);
      this.exit(exitCode);
    }
    return { networks: planned, deviceClasses, exitCode };
  }
}
