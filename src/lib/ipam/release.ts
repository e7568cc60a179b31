// `kubectl multinic ipam release` through the API (docs/design.md §3.5): the CLI writes a release request
// (RELEASE_REQUEST_ANNOTATION, JSON with a nonce) on the owning node's HostInterface; that node's
// agent releases through its own IPAM (so the durable journal stays the one source of truth and the
// IPPool mirror follows) and answers in status.release with the same nonce. Both sides are here as
// pure functions: parsing and validating the request, and deciding each item against what the
// journal holds. Pure.
import type { Allocation } from './types.js';

/** Annotation on a HostInterface asking its agent to release addresses; the value is a ReleaseRequest as JSON. */
export const RELEASE_REQUEST_ANNOTATION = 'multinic.fms.io/release-request';

/** At most this many addresses per request (the annotation stays far below the 256 KiB limit). */
export const MAX_RELEASE_ITEMS = 256;

/** One allocation to release, named exactly as the CLI saw it, so a reused address is never taken. */
export interface ReleaseItem {
  network: string;
  pool: string;
  address: string;
  podUID: string;
  containerID: string;
  /** Pod interface, e.g. net1-0. */
  interface: string;
}

export interface ReleaseRequest {
  nonce: string;
  /** Release even when the agent's pod cache says the pod is alive. */
  force: boolean;
  items: ReleaseItem[];
}

export type ReleaseOutcomeKind = 'released' | 'refused' | 'not-held';

export interface ReleaseOutcome extends ReleaseItem {
  outcome: ReleaseOutcomeKind;
  /** namespace/name of the holder, when the journal had it. */
  pod?: string;
  /** Why refused, or what not-held means. */
  reason?: string;
}

/** The agent's answer, in HostInterface status.release. */
export interface ReleaseAnswer {
  nonce: string;
  /** RFC 3339 time the agent acted. */
  at: string;
  results: ReleaseOutcome[];
  /** The request could not be read (then nothing was released). */
  error?: string;
}

const NONCE = /^[A-Za-z0-9._:-]{1,128}$/;
/** Names, UIDs, container IDs and addresses as they appear in the journal: bounded, no control characters. */
const FIELD = /^[A-Za-z0-9._:/@+-]{1,253}$/;
const FIELDS = ['network', 'pool', 'address', 'podUID', 'containerID', 'interface'] as const;

export const isValidNonce = (s: string): boolean => NONCE.test(s);

/** Parses a request annotation; an error names what is wrong (the nonce, when readable, still gets an answer). */
export function parseReleaseRequest(text: string): { request: ReleaseRequest } | { error: string; nonce?: string } {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    return { error: `annotation ${RELEASE_REQUEST_ANNOTATION} is not JSON: ${(e as Error).message}` };
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return { error: `annotation ${RELEASE_REQUEST_ANNOTATION} must be a JSON object` };
  const r = o as { nonce?: unknown; force?: unknown; items?: unknown };
  if (typeof r.nonce !== 'string' || !NONCE.test(r.nonce)) return { error: `annotation ${RELEASE_REQUEST_ANNOTATION}: nonce must be 1-128 characters of letters, digits, '.', '_', ':' or '-'` };
  const nonce = r.nonce;
  if (r.force !== undefined && typeof r.force !== 'boolean') return { nonce, error: 'force must be true or false' };
  if (!Array.isArray(r.items) || r.items.length === 0) return { nonce, error: 'items must be a non-empty list' };
  if (r.items.length > MAX_RELEASE_ITEMS) return { nonce, error: `at most ${MAX_RELEASE_ITEMS} items per request, got ${r.items.length}` };
  const items: ReleaseItem[] = [];
  for (const [i, it] of r.items.entries()) {
    if (!it || typeof it !== 'object') return { nonce, error: `items[${i}] must be an object` };
    const x = it as Record<string, unknown>;
    for (const f of FIELDS) {
      const v = x[f];
      // podUID and containerID may be empty for a runtime outside Kubernetes; the rest may not.
      const mayBeEmpty = f === 'podUID' || f === 'containerID';
      if (typeof v !== 'string' || (!(mayBeEmpty && v === '') && !FIELD.test(v))) return { nonce, error: `items[${i}].${f} must be a name, UID or address (letters, digits and . _ : / @ + -, at most 253)` };
    }
    items.push({ network: x.network as string, pool: x.pool as string, address: x.address as string, podUID: x.podUID as string, containerID: x.containerID as string, interface: x.interface as string });
  }
  return { request: { nonce, force: r.force === true, items } };
}

/**
 * What the agent does with one item, given what its journal holds now and whether its pod cache
 * says the holder is alive: release only the very allocation the CLI saw (same pool, address, pod
 * UID, container and interface); an address since given to someone else is refused, one already
 * free is not-held (nothing to do, the request's aim holds).
 */
export function decideRelease(item: ReleaseItem, held: readonly Allocation[], liveReason: (a: Allocation) => string | undefined, force: boolean): { release?: Allocation; outcome: ReleaseOutcome } {
  // The exact allocation first: an address held twice (a damaged journal) is released one holder at a time.
  const a =
    held.find((h) => h.pool === item.pool && h.address === item.address && h.podUID === item.podUID && h.containerID === item.containerID && h.interface === item.interface && h.network === item.network) ??
    held.find((h) => h.pool === item.pool && h.address === item.address);
  if (!a) return { outcome: { ...item, outcome: 'not-held', reason: `${item.address} is not held in pool ${item.pool} (already released)` } };
  const pod = `${a.namespace}/${a.podName}`;
  if (a.podUID !== item.podUID || a.containerID !== item.containerID || a.interface !== item.interface || a.network !== item.network) {
    return { outcome: { ...item, pod, outcome: 'refused', reason: `${item.address} is now held by pod ${pod} (uid ${a.podUID}, container ${a.containerID.slice(0, 12)}, ${a.interface}), not the allocation asked about; re-run to see the current holder` } };
  }
  const live = force ? undefined : liveReason(a);
  if (live) return { outcome: { ...item, pod, outcome: 'refused', reason: `${live}; add --force to release it anyway` } };
  return { release: a, outcome: { ...item, pod, outcome: 'released' } };
}
