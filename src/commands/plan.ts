import { readFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { BaseCommand, outputFlag, type BaseFlags } from '../cli/base.js';
import { renderData } from '../cli/output.js';
import { renderTable, useColor, type Column } from '../cli/table.js';
import type { CIDR, HostInterface } from '../lib/crds/types.gen.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { parseInventory } from '../lib/inventory.js';
import { describeObject, flattenLists, isObject, ManifestError, parseManifests, type ManifestDoc } from '../lib/manifest.js';
import { MULTI_NIC_IPAM, validateDeviceClass, validateNetwork, validateNetworkForInventory, type ValidatedNetwork } from '../lib/network.js';
import { parsePreviousCidrs, planNetwork, type PlannedPool, type PlanWarning, type UnplacedHost } from '../lib/plan/index.js';
import { checkPool } from '../lib/pool-check.js';
import { routePlan, type RoutePlan } from '../lib/routes.js';

/** One planned network: the CIDR `apply` would write, its pools, what did not fit, the warnings. */
export interface PlannedNetwork {
  name: string;
  cidr: CIDR;
  pools: PlannedPool[];
  unplaced: UnplacedHost[];
  warnings: PlanWarning[];
}

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
 * Gathers the inventory and previous plans. Today only from files: without --inventory this fails
 * (exit 2). Reading HostInterfaces and CIDRs from the cluster is to be added here.
 */
export async function gatherInputs(flags: Pick<PlanFlags, 'inventory' | 'previous'>): Promise<PlanInputs> {
  if (!flags.inventory) {
    throw new UserError('no host inventory: reading HostInterfaces from the cluster is not supported by plan yet', {
      hint: 'pass --inventory HOSTS.yaml (HostInterface objects, e.g. from `kubectl get hostinterfaces -o yaml`)',
    });
  }
  const inventory = parseInventory(await readDocs(flags.inventory));
  const previous = flags.previous ? parsePreviousCidrs(await readDocs(flags.previous)) : new Map<string, CIDR>();
  return { inventory, previous };
}

async function readDocs(path: string): Promise<ManifestDoc[]> {
  return parseManifests(await readSource(path), path === '-' ? 'stdin' : path);
}

async function readSource(path: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UserError(`cannot read ${path}: ${why}`, { hint: 'check the path, or pass - to read from stdin' });
  }
}

export default class PlanCommand extends BaseCommand<typeof PlanCommand> {
  static override summary = 'Compute the address plan (CIDR) of networks over a host inventory, offline.';
  static override description = `Validates MultiNicNetwork (and DeviceClass) manifests, carves each network's subnet into one block per NIC network and one pod block per host (design §3.2), checks the NIC pool and prints the plan. -o json|yaml prints the CIDR resource(s) apply would write; --routes prints the host routes instead.

Exit codes: 0 planned; 1 some hosts did not fit (the plan for the others is printed); 2 bad input.`;
  static override examples = [
    '<%= config.bin %> plan -f examples/network.yaml --inventory examples/hosts.yaml',
    '<%= config.bin %> plan -f examples/network.yaml --inventory examples/hosts.yaml -o yaml',
    '<%= config.bin %> plan -f examples/network.yaml --inventory examples/hosts.yaml --routes',
    'kubectl get hostinterfaces -o yaml > hosts.yaml && <%= config.bin %> plan -f - --inventory hosts.yaml < network.yaml',
  ];
  static override flags = {
    filename: Flags.string({ char: 'f', description: 'MultiNicNetwork/DeviceClass manifest (YAML or JSON, multi-document; - for stdin). Repeatable.', required: true, multiple: true }),
    inventory: Flags.string({ description: 'HostInterface objects (v1 List, multi-document YAML, or `kubectl get hostinterfaces -o yaml` output).' }),
    previous: Flags.string({ description: 'CIDR(s) of an earlier plan: existing host and interface indexes are kept.' }),
    routes: Flags.boolean({ description: 'Print the host routes (RoutePlan) instead of the address plan.', default: false }),
    output: outputFlag,
  };

  async run(): Promise<PlanCommandResult> {
    const flags = this.flags;
    if (flags.filename.filter((f) => f === '-').length > 1) throw new UserError('-f - (stdin) can be given only once');
    const docs: ManifestDoc[] = [];
    for (const f of flags.filename) docs.push(...flattenLists(await readDocs(f)));

    const networks: ValidatedNetwork[] = [];
    const deviceClasses: string[] = [];
    for (const d of docs) {
      const kind = isObject(d.value) ? d.value.kind : undefined;
      if (kind === 'MultiNicNetwork') networks.push(validateNetwork(d));
      else if (kind === 'DeviceClass') deviceClasses.push(validateDeviceClass(d).metadata.name ?? '');
      else throw new ManifestError(d.source, `expected a MultiNicNetwork or DeviceClass, got ${describeObject(d.value)}`, 'pass manifests with apiVersion: multinic.fms.io/v1 and kind: MultiNicNetwork (or DeviceClass) to -f');
    }
    const seen = new Map<string, string>();
    for (const n of networks) {
      const other = seen.get(n.name);
      if (other) throw new ManifestError(n.source, `MultiNicNetwork "${n.name}" is also defined in ${other}`, 'give each network a distinct metadata.name');
      seen.set(n.name, n.source);
    }
    if (networks.length === 0) throw new UserError(`no MultiNicNetwork in ${flags.filename.join(', ')}`, { hint: 'pass a MultiNicNetwork manifest with -f (see examples/network.yaml)' });
    const plannable = networks.filter((n) => n.ipam.type === MULTI_NIC_IPAM);
    for (const n of networks) if (n.ipam.type !== MULTI_NIC_IPAM) this.note(`note: ${n.source}: network "${n.name}" uses ipam type "${n.ipam.type}": it has no address plan, skipped`);
    if (plannable.length === 0) throw new UserError(`no network uses ipam type "${MULTI_NIC_IPAM}": nothing to plan`, { hint: `set "type": "${MULTI_NIC_IPAM}" in spec.ipam to have addresses planned` });

    const inputs = await gatherInputs(flags);
    for (const n of plannable) validateNetworkForInventory(n, inputs.inventory);
    const planned: PlannedNetwork[] = plannable.map((n) => {
      const r = planNetwork({ network: n, inventory: inputs.inventory, previous: inputs.previous.get(n.name) });
      return { name: n.name, cidr: r.cidr, pools: r.pools, unplaced: r.unplaced, warnings: [...r.warnings, ...checkPool(n, inputs.inventory)] };
    });
    const exitCode = planned.some((p) => p.unplaced.length > 0) ? ExitCode.Problems : ExitCode.Ok;

    const fmt = flags.output;
    if (fmt === 'json' || fmt === 'yaml') {
      const items: Array<CIDR | RoutePlan> = planned.map((p) => (flags.routes ? routePlan(p.cidr) : p.cidr));
      const data = items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items };
      this.out(await renderData(data, fmt));
    } else {
      const color = useColor(process.stdout, flags['no-color'], process.env);
      this.out(planned.map((p) => (flags.routes ? routesTable(p, color) : planTable(p, fmt === 'wide', color))).join('\n'));
    }
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

/** Pod-block capacity for humans: exact up to 7 digits, else scientific (IPv6 blocks). */
export function formatCount(n: bigint): string {
  const s = n.toString();
  return s.length <= 7 ? s : Number(n).toExponential(2).replace('e+', 'e');
}

function planTable(p: PlannedNetwork, wide: boolean, color: boolean): string {
  const cfg = p.cidr.spec.config;
  const entries = p.cidr.spec.cidr;
  const head = `NETWORK ${p.name}: subnet ${cfg.subnet || '(host-subnet mode)'}, interfaceBlock ${cfg.interfaceBlock}, hostBlock ${cfg.hostBlock}, ${entries.length} NIC network(s), ${new Set(p.pools.map((x) => x.hostName)).size} host(s)\n`;
  if (entries.length === 0) return `${head}(no NIC networks)\n`;
  const columns: Column[] = [{ header: 'HOST' }, ...entries.map((e) => ({ header: `#${e.interfaceIndex} ${e.netAddress}${wide ? ` -> ${e.vlanCIDR}` : ''}` }))];
  const byHost = new Map<string, Map<number, PlannedPool>>();
  for (const pool of p.pools) {
    let m = byHost.get(pool.hostName);
    if (!m) byHost.set(pool.hostName, (m = new Map()));
    m.set(pool.interfaceIndex, pool);
  }
  const rows = [...byHost.keys()].sort().map((h) => [
    h,
    ...entries.map((e) => {
      const pool = byHost.get(h)?.get(e.interfaceIndex);
      if (!pool) return '-';
      const base = `${pool.podCIDR} (${formatCount(pool.capacity)})`;
      return wide ? `${base} ${pool.interfaceName} ${pool.hostIP}` : base;
    }),
  ]);
  return head + renderTable(columns, rows, { color });
}

function routesTable(p: PlannedNetwork, color: boolean): string {
  const rp = routePlan(p.cidr);
  const rows = rp.hosts.flatMap((h) => h.routes.map((r) => [h.hostName, r.dst, r.via, r.dev, r.table]));
  const rule = rp.subnet ? `rule: from ${rp.subnet} lookup ${p.name}` : 'no rule (host-subnet mode)';
  return `NETWORK ${p.name}: ${rule}\n${renderTable([{ header: 'HOST' }, { header: 'DESTINATION' }, { header: 'VIA' }, { header: 'DEV' }, { header: 'TABLE' }], rows, { color })}`;
}
