// Pure decisions behind `install` and `uninstall`: what to do with each rendered object given what
// the cluster already holds, where the host CNI bin dir is, and what removal deletes. The commands
// only fetch, call these, and write.
import type { KubeObject } from '../k8s/meta.js';
import { DEFAULT_CNI_BIN_DIR, MANAGED_BY, MANAGED_BY_LABEL, installOrder } from './render.js';

/** Annotation holding a hash of the object as we rendered it: a re-install with the same options is a no-op. */
export const APPLIED_HASH_ANNOTATION = 'multinic.fms.io/applied-hash';

export type ApplyAction = 'create' | 'update' | 'unchanged' | 'keep';

export interface ApplyStep {
  action: ApplyAction;
  /** The object to send (create/update), or the desired one (unchanged/keep). */
  object: KubeObject;
  /** Why an existing object is kept as it is (action "keep"). */
  reason?: string;
}

/** FNV-1a (64-bit) of the canonical JSON: stable across runs and key orders. */
export function objectHash(obj: unknown): string {
  let h = 0xcbf29ce484222325n;
  for (const ch of canonicalJson(obj)) {
    h ^= BigInt(ch.codePointAt(0)!);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** True when every field of `want` is present with the same value in `have` (arrays compared whole). */
export function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) {
    return Array.isArray(have) && want.length === have.length && want.every((w, i) => isSubset(w, have[i]));
  }
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, w]) => w === undefined || isSubset(w, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

export const isOurs = (o: KubeObject | undefined): boolean => o?.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;

/** `desired` with the applied-hash annotation set (what create sends). */
export function withHash(desired: KubeObject): KubeObject {
  const hash = objectHash(desired);
  return { ...desired, metadata: { ...desired.metadata, annotations: { ...desired.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash } } };
}

/**
 * Decides create / update / unchanged / keep for one object. Updates are full replaces carrying the
 * existing resourceVersion (optimistic concurrency) and preserve what the server and others own:
 * uid, finalizers, ownerReferences, foreign labels and annotations, status, and top-level fields we
 * do not render (e.g. a ServiceAccount's imagePullSecrets). A Namespace that is not ours is never
 * touched (we may have been installed into a shared namespace).
 */
export function planApply(desired: KubeObject, existing: KubeObject | undefined): ApplyStep {
  const stamped = withHash(desired);
  if (!existing) return { action: 'create', object: stamped };
  if (desired.kind === 'Namespace' && !isOurs(existing)) {
    return { action: 'keep', object: desired, reason: 'namespace existed before install; left as it is' };
  }
  const sameHash = existing.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] === stamped.metadata?.annotations?.[APPLIED_HASH_ANNOTATION];
  if (sameHash && isSubset(stamped, existing)) return { action: 'unchanged', object: existing };
  const em = existing.metadata ?? {};
  const object: KubeObject = {
    ...existing,
    ...stamped,
    metadata: {
      ...em,
      labels: { ...em.labels, ...stamped.metadata?.labels },
      annotations: { ...em.annotations, ...stamped.metadata?.annotations },
    },
  };
  return { action: 'update', object };
}

export interface CniBinDir {
  path: string;
  /** Human-readable provenance: `--cni-bin-dir`, `Multus DaemonSet kube-system/kube-multus-ds (volume cnibin)`, or `default`. */
  source: string;
}

interface Volume {
  name?: string;
  hostPath?: { path?: string };
}

/**
 * The host CNI bin dir, as upstream finds it: the `cnibin` hostPath volume of Multus (DaemonSets
 * labelled app=multus, then such pods), unless given explicitly; else /opt/cni/bin.
 */
export function detectCniBinDir(explicit: string | undefined, multus: KubeObject[]): CniBinDir {
  if (explicit) return { path: explicit, source: '--cni-bin-dir' };
  const sorted = [...multus].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'DaemonSet' ? -1 : 1) || key(a).localeCompare(key(b)));
  for (const o of sorted) {
    const spec = o.spec as { template?: { spec?: { volumes?: Volume[] } }; volumes?: Volume[] } | undefined;
    const volumes = spec?.template?.spec?.volumes ?? spec?.volumes ?? [];
    const path = volumes.find((v) => v.name === 'cnibin')?.hostPath?.path;
    if (path) return { path, source: `Multus ${o.kind} ${key(o)} (volume cnibin)` };
  }
  return { path: DEFAULT_CNI_BIN_DIR, source: 'default; no Multus DaemonSet with a cnibin volume found' };
}

const key = (o: KubeObject): string => `${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;

/** Removal order: the reverse of the apply order (workload first, CRDs last). */
export function uninstallOrder(objects: KubeObject[]): KubeObject[] {
  return [...objects].sort(installOrder).reverse();
}

/** `kind.group/name` as kubectl prints it (`daemonset.apps/multinic-agent`). */
export function displayName(o: KubeObject): string {
  const group = (o.apiVersion ?? '').includes('/') ? `.${o.apiVersion!.split('/')[0]}` : '';
  return `${(o.kind ?? '').toLowerCase()}${group}/${o.metadata?.name ?? ''}`;
}
