import { Flags } from '@oclif/core';
import { BaseCommand, type BaseFlags } from '../cli/base.js';
import { readAllDocs, readDocs } from '../cli/files.js';
import { outputFlags } from '../cli/output.js';
import { useColor } from '../cli/table.js';
import { planTable, routesTable, type PlannedNetwork } from '../cli/views/plan.js';
import { gatherDra, requireInstalled } from '../cluster/snapshot.js';
import { listCidrViews } from '../cluster/cidr-view.js';
import type { KubeApi } from '../kube/api.js';
import type { CIDR, HostInterface } from '../lib/crds/types.gen.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { nicsOf, parseInventory, type Nic } from '../lib/inventory.js';
import { describeObject, ManifestError } from '../lib/manifest.js';
import { R } from '../lib/k8s/resources.js';
import type { Family } from '../lib/net/ip.js';
import { MULTI_NIC_IPAM, checkSubnetOverlaps, parseNetworkManifests, validateNetworkForInventory } from '../lib/network.js';
import { parsePreviousCidrs, planNetwork } from '../lib/plan/index.js';
import { heldCell, heldInPlan, heldNics, type HeldNic, type PlanHeldNic } from '../lib/dra/held.js';
import { checkPool } from '../lib/pool-check.js';
import { routePlan, type RoutePlan } from '../lib/routes.js';

export type { PlannedNetwork } from '../cli/views/plan.js';

/**
 * The annotation of a printed CIDR that lists the network's NICs held by DRA ResourceClaims, as a
 * JSON array of {host, nic, claim, pods} (schemas/planresult.json). Set only when plan read a
 * cluster and a claim holds one of the network's NICs.
 */
export const HELD_NICS_ANNOTATION = 'multinic.fms.io/held-nics';

/** What `kubectl multinic plan` computed (returned by run() for tests and callers). */
export interface PlanCommandResult {
  networks: PlannedNetwork[];
  /** Names of the DeviceClasses that were validated alongside. */
  deviceClasses: string[];
  /** Per network, the NICs of its plan that ResourceClaims hold (undefined: planned offline). */
  held?: Record<string, PlanHeldNic[]>;
  exitCode: ExitCode;
}

/** The inputs `plan` needs beyond the -f documents. */
export interface PlanInputs {
  inventory: HostInterface[];
  /** Previous CIDRs by network name. */
  previous: Map<string, CIDR>;
  /** The NICs DRA ResourceClaims hold (read from the cluster only; undefined offline). */
  held?: HeldNic[];
  /** DRA lists the API refused (403), with its message. */
  draUnreadable?: string[];
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
  const [hosts, cidrs, dra] = await Promise.all([api.list<HostInterface>(R.HostInterface), listCidrViews(api), gatherDra(api)]);
  if (hosts.items.length === 0) {
    throw new UserError(`no HostInterfaces in the cluster at ${api.server}: no agent has published its NICs yet`, {
      hint: 'check the agents (kubectl multinic status), or plan offline with --inventory HOSTS.yaml',
    });
  }
  const inventory = parseInventory(hosts.items.map((h, i) => ({ source: `cluster HostInterface #${i + 1}`, value: h })));
  const previous = flags.previous
    ? parsePreviousCidrs(await readDocs(flags.previous))
    : new Map(cidrs.map((c) => [c.metadata.name ?? '', c] as const));
  return { inventory, previous, held: heldNics(dra.draClaims, dra.draSlices), ...(dra.draUnreadable ? { draUnreadable: dra.draUnreadable } : {}) };
}

export default class PlanCommand extends BaseCommand<typeof PlanCommand> {
  static override summary = 'Compute the address plan (CIDR) of networks over the hosts in the cluster, or offline over an inventory file.';
  static override description = `Validates MultiNicNetwork (and DeviceClass) manifests, carves each network's subnet into one block per NIC network and one pod block per host (docs/design.md §3.2), checks the NIC pool and prints the plan. -o json|yaml prints the CIDR resource(s) apply would write; --routes prints the host routes instead.

Two networks whose subnets overlap are bad input: their policy rules would claim each other's addresses.

Against a cluster, the NICs DRA ResourceClaims hold are named per host in a CLAIMED BY column (the NICs, the pods, the claim; docs/dra.md), and -o json|yaml sets the annotation multinic.fms.io/held-nics of the CIDR to them (JSON, schemas/planresult.json). With --inventory (offline) plan reads no claims and says nothing of them.

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
    // The inventory's NICs parsed once per family, shared by validation, planner and pool checks.
    const nicsByFamily = new Map<Family, Nic[]>();
    const nicsFor = (f: Family): Nic[] => {
      let l = nicsByFamily.get(f);
      if (!l) nicsByFamily.set(f, (l = nicsOf(inputs.inventory, f)));
      return l;
    };
    for (const n of plannable) validateNetworkForInventory(n, inputs.inventory, nicsFor(n.family));
    const planned: PlannedNetwork[] = plannable.map((n) => {
      const nics = nicsFor(n.family);
      const r = planNetwork({ network: n, inventory: inputs.inventory, previous: inputs.previous.get(n.name), nics });
      return { name: n.name, cidr: r.cidr, pools: r.pools, unplaced: r.unplaced, warnings: [...r.warnings, ...checkPool(n, inputs.inventory, nics)] };
    });
    const exitCode = planned.some((p) => p.unplaced.length > 0) ? ExitCode.Problems : ExitCode.Ok;
    for (const why of inputs.draUnreadable ?? []) this.note(`warning: cannot list ${why}: NICs held by ResourceClaims are not shown`);
    const held = inputs.held ? Object.fromEntries(planned.map((p) => [p.name, heldInPlan(inputs.held!, p.pools)])) : undefined;
    const heldOf = (name: string): PlanHeldNic[] => held?.[name] ?? [];

    const machine = flags.output && flags.output.format !== 'human';
    const items: Array<CIDR | RoutePlan> = machine ? planned.map((p) => (flags.routes ? routePlan(p.cidr) : withHeld(p.cidr, heldOf(p.name)))) : [];
    const color = useColor(process.stdout, flags['no-color'], process.env);
    await this.emit({
      data: items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items },
      human: (wide) =>
        planned
          .map((p) => {
            if (flags.routes) return routesTable(p, color);
            // DRA: a CLAIMED BY column once a claim holds one of the network's NICs (docs/dra.md).
            const h = heldOf(p.name);
            return planTable(p, wide, color, undefined, h.length ? { header: 'CLAIMED BY', cell: (host) => heldCell(h, host) } : undefined);
          })
          .join('\n'),
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
    return { networks: planned, deviceClasses, ...(held ? { held } : {}), exitCode };
  }
}

/** The CIDR with HELD_NICS_ANNOTATION when claims hold some of its NICs; else as apply writes it. */
function withHeld(cidr: CIDR, held: PlanHeldNic[]): CIDR {
  if (held.length === 0) return cidr;
  const value = JSON.stringify(held.map((h) => ({ claim: h.claim, host: h.host, nic: h.nic, pods: h.pods })));
  return { ...cidr, metadata: { ...cidr.metadata, annotations: { ...cidr.metadata.annotations, [HELD_NICS_ANNOTATION]: value } } };
}
