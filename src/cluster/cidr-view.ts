// The CIDRs as every CLI reader sees them (status, doctor, ipam, plan, apply, check, sysdump, the
// TUI's refresh): each CIDR object with its network's CIDRClaims assembled in (docs/scale.md), so a
// CIDR whose host entries are claims reads with all its hosts, in the upstream CIDR shape. A
// cluster whose CIDRClaim CRD is not installed yet (an install from an earlier release) reads its
// CIDRs as they are.
import { isNotFound, type KubeApi } from '../kube/api.js';
import { cidrViews, type CIDRClaim } from '../lib/cluster/claim-objects.js';
import type { CIDR } from '../lib/crds/types.gen.js';
import { R } from '../lib/k8s/resources.js';

/** Every CIDRClaim, or none where the CRD is not served. */
export async function listAllClaims(kube: KubeApi): Promise<CIDRClaim[]> {
  try {
    return (await kube.list<CIDRClaim>(R.CIDRClaim)).items;
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/** Every CIDR, as its view (the object plus its claims). */
export async function listCidrViews(kube: KubeApi): Promise<CIDR[]> {
  const [cidrs, claims] = await Promise.all([kube.list<CIDR>(R.CIDR), listAllClaims(kube)]);
  return cidrViews(cidrs.items, claims);
}
