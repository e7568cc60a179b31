// Leader election on a coordination.k8s.io/v1 Lease, decided from plain data (the same rules as
// client-go's leaderelection): the holder renews before leaseDurationSeconds pass; anyone may take
// the lease once renewTime + leaseDurationSeconds is in the past. Writes are CAS on the Lease's
// resourceVersion, so two candidates that both see an expired lease cannot both win. Pure.

export const LEADER_LEASE_NAME = 'multinic-agent-leader';

/** The Lease spec fields we use (coordination.k8s.io/v1 LeaseSpec). */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with microseconds. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type LeaseDecision =
  | { action: 'create'; spec: LeaseSpec }
  | { action: 'renew'; spec: LeaseSpec }
  | { action: 'takeover'; spec: LeaseSpec; from: string }
  | { action: 'wait'; holder: string; expiresAt: Date };

/** Kubernetes MicroTime text (6 fractional digits, Z). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** When the lease stops being valid; undefined when it has no holder (free to take). */
export function leaseExpiry(spec: LeaseSpec | undefined): Date | undefined {
  if (!spec?.holderIdentity) return undefined;
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  if (Number.isNaN(renewed)) return new Date(0);
  return new Date(renewed + (spec.leaseDurationSeconds ?? 0) * 1000);
}

/**
 * What `identity` should do with the lease as read (undefined: no Lease object). Renewing keeps
 * acquireTime and transitions; a takeover increments leaseTransitions.
 */
export function decideLease(spec: LeaseSpec | undefined, exists: boolean, identity: string, durationSeconds: number, now: Date): LeaseDecision {
  const t = microTime(now);
  const fresh: LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: t, renewTime: t, leaseTransitions: spec?.leaseTransitions ?? 0 };
  if (!exists) return { action: 'create', spec: fresh };
  if (spec?.holderIdentity === identity) {
    return { action: 'renew', spec: { ...spec, leaseDurationSeconds: durationSeconds, renewTime: t, acquireTime: spec.acquireTime ?? t } };
  }
  const expiry = leaseExpiry(spec);
  if (expiry && expiry.getTime() > now.getTime()) return { action: 'wait', holder: spec?.holderIdentity ?? '', expiresAt: expiry };
  return { action: 'takeover', from: spec?.holderIdentity ?? '', spec: { ...fresh, leaseTransitions: (spec?.leaseTransitions ?? 0) + 1 } };
}

/** A holder releasing on clean shutdown: empty holder so the next candidate need not wait for expiry. */
export function releasedLease(spec: LeaseSpec, now: Date): LeaseSpec {
  return { ...spec, holderIdentity: '', renewTime: microTime(now), leaseDurationSeconds: 1 };
}
