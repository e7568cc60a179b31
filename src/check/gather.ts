// Gathers what `check` plans from: the MultiNicNetworks, their CIDRs and the HostInterfaces, and
// the hosts a --node-selector picks. Read-only.
import type { CIDR, HostInterface, MultiNicNetwork } from '../lib/crds/types.gen.js';
import { listAllClaims } from '../cluster/cidr-view.js';
import { cidrViews } from '../lib/cluster/claim-objects.js';
import { networkFromCidr, networkFromHostInterfaces } from '../lib/check/plan.js';
import type { CheckNetwork } from '../lib/check/types.js';
import { UserError } from '../lib/errors.js';
import { deviceClassName } from '../lib/dra/slices.js';
import { R } from '../lib/k8s/resources.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { ApiError, type KubeApi, isNotFound } from '../kube/api.js';

async function listOrExplain<T extends KubeObject>(api: KubeApi, r: (typeof R)[keyof typeof R]): Promise<T[]> {
  try {
    return (await api.list<T>(r)).items;
  } catch (e) {
    if (isNotFound(e)) {
      throw new UserError(`the ${r.plural}.${r.group} resource is not served by ${api.server}: kubectl-multinic is not installed there`, {
        hint: 'install it first: kubectl multinic install',
      });
    }
    throw e;
  }
}

/**
 * The networks to check, each with its NIC layout: from the CIDR when the agents have written one,
 * otherwise from the HostInterfaces. `names` empty = all networks. Unknown names are a usage error.
 */
export async function gatherNetworks(api: KubeApi, names: string[]): Promise<CheckNetwork[]> {
  const [nets, cidrs, his] = await Promise.all([
    listOrExplain<MultiNicNetwork & KubeObject>(api, R.MultiNicNetwork),
    listOrExplain<CIDR & KubeObject>(api, R.CIDR).then(async (cidrs) => cidrViews(cidrs, await listAllClaims(api)) as Array<CIDR & KubeObject>),
    listOrExplain<HostInterface & KubeObject>(api, R.HostInterface),
  ]);
  const all = nets.map((n) => n.metadata.name ?? '').sort();
  if (!all.length) throw new UserError(`no MultiNicNetwork on ${api.server}`, { hint: 'create one first: kubectl multinic apply -f network.yaml' });
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) {
    throw new UserError(`network${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} not found`, { hint: `networks: ${all.join(', ')}` });
  }
  const chosen = nets.filter((n) => !names.length || names.includes(n.metadata.name ?? '')).sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  return chosen.map((net) => {
    const name = net.metadata.name ?? '';
    const cidr = cidrs.find((c) => c.metadata.name === name);
    return cidr?.spec?.cidr?.length ? networkFromCidr(name, cidr, his) : networkFromHostInterfaces(net, his);
  });
}

/** Host names of the Nodes a label selector picks (kubectl's syntax, evaluated by the server). */
export async function hostsBySelector(api: KubeApi, selector: string): Promise<string[]> {
  let nodes;
  try {
    nodes = await api.list(R.Node, { labelSelector: selector });
  } catch (e) {
    if (e instanceof ApiError && e.code === 400) throw new UserError(`invalid --node-selector "${selector}": ${e.message}`, { hint: 'use kubectl label selector syntax, e.g. --node-selector gpu=true,zone!=b' });
    throw e;
  }
  return nodes.items.map((n) => n.metadata?.name ?? '').filter(Boolean).sort();
}

/**
 * --via claim: every network checked must have its DRA DeviceClass (`<network>.multinic.fms.io`,
 * made by apply where resource.k8s.io/v1 is served). A usage error naming the missing ones otherwise.
 */
export async function requireDraClasses(api: KubeApi, networks: string[]): Promise<void> {
  let have: Set<string>;
  try {
    have = new Set((await api.list(R.DraDeviceClass)).items.map((c) => c.metadata?.name ?? ''));
  } catch (e) {
    if (isNotFound(e)) {
      throw new UserError(`--via claim needs DRA, but ${api.server} does not serve resource.k8s.io/v1 DeviceClasses`, { hint: 'use Kubernetes 1.34 or newer with kubectl multinic install --dra (docs/dra.md), or check with --via annotation' });
    }
    throw e;
  }
  const missing = networks.filter((n) => !have.has(deviceClassName(n)));
  if (missing.length) {
    throw new UserError(`--via claim: no DeviceClass ${missing.map((n) => `"${deviceClassName(n)}"`).join(', ')} for network${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
      hint: 'kubectl multinic apply makes one per network where resource.k8s.io/v1 is served: apply the network again after install --dra (docs/dra.md), or check with --via annotation',
    });
  }
}
