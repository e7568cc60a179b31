// The semantics of the Kubernetes API over the store: create/get/list/update/patch/delete/watch with
// resourceVersion preconditions, generation, the status subresource, finalizers, ownerReference
// garbage collection, namespace and CRD lifecycles, and pod logs. The HTTP layer (server.ts) and
// in-process callers (tests, the lab) both go through here, so both see the same rules.
//
// Implemented as kube-apiserver does: optimistic concurrency on metadata.resourceVersion (a PUT or
// patch carrying a stale one gets 409; one without it is unconditional); no-op updates write
// nothing; metadata.generation bumps when anything but metadata (and status, with a status
// subresource) changes; status is ignored on the main resource and everything but status on
// /status; an object with finalizers is only marked (deletionTimestamp) and goes away when the last
// finalizer is removed; dependents whose owners are all gone are deleted in the background
// (Foreground and Orphan propagation honoured); deleting a namespace deletes its contents first;
// deleting a CRD deletes its objects, then stops serving it.
// Deliberately not implemented: admission webhooks, RBAC/authentication (every request is allowed),
// graceful pod deletion (pods go at once, there is no kubelet to confirm), managedFields and
// field-ownership conflicts of server-side apply (apply is create-or-merge), multi-version conversion beyond apiVersion. (Protobuf for
// the core kinds clients send that way is server.ts + protobuf.ts; watches stay JSON.)
import { randomUUID } from 'node:crypto';
import type { KubeObject, ObjectMeta, OwnerReference } from '../../lib/k8s/meta.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalid,
  methodNotAllowed,
  notFound,
  type StatusCause,
} from './errors.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { apiVersionOf, Registry, storageKey, type ResourceType } from './registry.js';
import { Traffic } from './traffic.js';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { Store, type EventType } from './store.js';
import { crdCauses, nameErrors, prune, schemaCauses } from './validation.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';
export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
export type Propagation = 'Background' | 'Foreground' | 'Orphan';

export interface WriteOptions {
  dryRun?: boolean;
  /** Unknown fields: Strict = 400, Warn = pruned with a warning (the server default), Ignore = pruned. */
  fieldValidation?: FieldValidation;
  /** Receives `Warning` header texts. */
  warnings?: string[];
}

export interface DeleteOptions {
  dryRun?: boolean;
  propagationPolicy?: Propagation;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

/** A list request's paging (`limit`, `continue`), as kube-apiserver reads them. */
export interface PageOptions {
  /** At most this many items; 0 or absent: all. */
  limit?: number;
  /** The token of the previous page: the list continues in that page's snapshot. */
  continue?: string;
}

/** A list answer: the items, the snapshot's resourceVersion and, when more remain, the token. */
export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  /** Items after this page; set, as kube-apiserver does, only for a list without selectors. */
  remainingItemCount?: number;
}

export interface WatchOptions extends ListOptions {
  /** Resume after this resourceVersion; '' or '0' (or absent) first sends the current objects as ADDED. */
  resourceVersion?: string;
}

/** ObjectMeta plus the fields only the server side reads. */
type Meta = ObjectMeta & { generateName?: string; deletionGracePeriodSeconds?: number };

const NS_TYPE_KEY = '/namespaces';
/** Set on every namespace by kube-apiserver (1.21+), so namespaces can be selected by name. */
const NS_NAME_LABEL = 'kubernetes.io/metadata.name';
const CRD_KEY = 'apiextensions.k8s.io/customresourcedefinitions';
const CRD_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';
const FOREGROUND = 'foregroundDeletion';
const GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const res = (t: ResourceType) => ({ group: t.group, plural: t.plural });
const same = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

interface LogBuffer {
  text: string;
  followers: Set<(chunk: string | null) => void>;
}

export class Api {
  readonly registry = new Registry();
  readonly store: Store;
  /** Read traffic over HTTP (server.ts counts it), for tests and benches. */
  readonly traffic = new Traffic();
  private readonly logs = new Map<string, LogBuffer>();
  private sweepScheduled: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(opts: { historyLimit?: number; maxObjectBytes?: number } = {}) {
    this.store = new Store(opts.historyLimit, opts.maxObjectBytes);
  }

  /** Stops background work (garbage collection); pending sweeps are dropped. */
  close(): void {
    this.closed = true;
    if (this.sweepScheduled) clearImmediate(this.sweepScheduled);
    for (const b of this.logs.values()) for (const f of b.followers) f(null);
  }

  // ---- reads ---------------------------------------------------------------------------------

  get(t: ResourceType, namespace: string, name: string): KubeObject {
    const o = this.store.get(storageKey(t), this.nsFor(t, namespace), name);
    if (!o) throw notFound(res(t), name);
    return this.present(t, o);
  }

  /**
   * Objects matching the selectors and the list's resourceVersion. With `limit`, one page and a
   * continue token that carries the first page's resourceVersion and the last key served: every
   * later page is read from that same snapshot (410 Expired once the history no longer reaches
   * it), as etcd-backed lists are. `shared`: the items share the stored objects' contents (not
   * copies), for a caller that only serialises them and must not modify them.
   */
  list(t: ResourceType, namespace: string | undefined, opts: ListOptions & PageOptions & { shared?: boolean } = {}): ListResult {
    const match = opts.labelSelector || opts.fieldSelector ? this.matcher(t, opts) : undefined;
    const ns = t.namespaced ? namespace || undefined : undefined;
    const limit = opts.limit ?? 0;
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`limit must be a non-negative integer (got "${String(opts.limit)}")`);
    let at = this.store.resourceVersion;
    let after: string | undefined;
    if (opts.continue) ({ rv: at, start: after } = decodeContinue(opts.continue));
    const page = this.store.page(storageKey(t), { namespace: ns, match, at, ...(after === undefined ? {} : { after }), ...(limit > 0 ? { limit } : {}), copy: !opts.shared });
    const out: ListResult = { items: page.items.map((o) => this.present(t, o)), resourceVersion: String(at) };
    if (page.remaining > 0 && page.lastKey !== undefined) {
      out.continue = encodeContinue(at, page.lastKey);
      if (!opts.labelSelector && !opts.fieldSelector) out.remainingItemCount = page.remaining;
    }
    return out;
  }

  matcher(t: ResourceType, opts: ListOptions): (o: Readonly<KubeObject>) => boolean {
    const labels = opts.labelSelector ? parseLabelSelector(opts.labelSelector) : [];
    const supported = ['metadata.name', ...(t.namespaced ? ['metadata.namespace'] : []), ...t.selectableFields];
    const fields = opts.fieldSelector ? parseFieldSelector(opts.fieldSelector, supported, t.plural) : [];
    return (o) => matchesLabels(labels, o.metadata?.labels) && matchesFields(fields, o);
  }

  /**
   * Opens a watch. `send` gets each event's object in this type's apiVersion; `onClose` runs when
   * the server drops the watch. Throws 410 for a resourceVersion older than the history window.
   */
  watch(t: ResourceType, namespace: string | undefined, opts: WatchOptions, send: (type: EventType, obj: KubeObject) => void, onClose: () => void): () => void {
    const match = this.matcher(t, opts);
    const ns = t.namespaced ? namespace || undefined : undefined;
    let from: number;
    const rv = opts.resourceVersion ?? '';
    if (rv === '' || rv === '0') {
      for (const o of this.store.list(storageKey(t), ns, match)) send('ADDED', this.present(t, o));
      from = this.store.resourceVersion;
    } else {
      from = Number(rv);
      if (!Number.isInteger(from) || from < 0) throw badRequest(`invalid resource version "${rv}": must be a non-negative integer`);
    }
    const spec = { key: storageKey(t), match, send: (type: EventType, o: KubeObject) => send(type, this.present(t, o)), onClose };
    return this.store.watch(ns === undefined ? spec : { ...spec, namespace: ns }, from);
  }

  // ---- writes --------------------------------------------------------------------------------

  create(t: ResourceType, namespace: string, body: unknown, opts: WriteOptions = {}): KubeObject {
    const obj = this.decode(t, body);
    const meta: Meta = (obj.metadata ??= {});
    if (t.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace || meta.namespace || 'default';
      this.requireLiveNamespace(t, meta.namespace, meta.name ?? meta.generateName ?? '');
    } else delete meta.namespace;
    if (!meta.name) {
      if (!meta.generateName) throw invalid(t.group, t.kind, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
      meta.name = this.generateName(t, meta.namespace ?? '', meta.generateName);
    }
    const causes = nameErrors(meta.name, t.plural === 'namespaces');
    if (causes.length) throw invalid(t.group, t.kind, meta.name, causes);
    if (this.store.get(storageKey(t), meta.namespace ?? '', meta.name)) throw alreadyExists(res(t), meta.name);
    if (meta.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    if (t.crd && this.crdTerminating(t.crd)) throw methodNotAllowed(`create not allowed while custom resource definition is terminating`);

    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    delete meta.deletionTimestamp;
    delete meta.resourceVersion;
    if (t.generation) meta.generation = 1;
    else delete meta.generation;
    this.defaultOnCreate(t, obj);
    this.admit(t, obj, opts, undefined);
    if (opts.dryRun) return this.present(t, obj);
    const stored = this.store.write(storageKey(t), 'ADDED', obj);
    if (storageKey(t) === CRD_KEY) this.registry.setCrd(stored);
    if (this.ownersNeedSweep(meta.ownerReferences)) this.scheduleSweep();
    return this.present(t, stored);
  }

  /** PUT of the main resource or (subresource 'status') of the status only. */
  update(t: ResourceType, namespace: string, name: string, body: unknown, opts: WriteOptions = {}, subresource?: 'status'): KubeObject {
    const next = this.decode(t, body);
    const nm = next.metadata ?? {};
    if (nm.name && nm.name !== name) throw badRequest(`the name of the object (${nm.name}) does not match the name on the URL (${name})`);
    if (t.namespaced && nm.namespace && nm.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const old = this.store.get(storageKey(t), this.nsFor(t, namespace), name);
    if (!old) throw notFound(res(t), name);
    if (nm.resourceVersion && nm.resourceVersion !== old.metadata?.resourceVersion) throw conflict(res(t), name);
    if (nm.uid && nm.uid !== old.metadata?.uid) throw conflict(res(t), name, `Precondition failed: UID in precondition: ${nm.uid}, UID in object meta: ${old.metadata?.uid ?? ''}`);
    return this.commitUpdate(t, old, next, opts, subresource);
  }

  /**
   * PATCH in one of the four formats. A resourceVersion in the patched result that differs from
   * the current one is a precondition failure (409), as in kube-apiserver. `apply` creates the
   * object when it does not exist.
   */
  patch(t: ResourceType, namespace: string, name: string, type: PatchType, patch: unknown, opts: WriteOptions = {}, subresource?: 'status'): KubeObject {
    const old = this.store.get(storageKey(t), this.nsFor(t, namespace), name);
    if (!old) {
      if (type === 'apply' && !subresource) {
        const body = (patch ?? {}) as KubeObject;
        if (body.metadata?.name && body.metadata.name !== name) throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
        return this.create(t, namespace, { ...body, metadata: { ...body.metadata, name } }, opts);
      }
      throw notFound(res(t), name);
    }
    const current = this.present(t, old);
    let patched: unknown;
    switch (type) {
      case 'merge':
        patched = mergePatch(current, patch);
        break;
      case 'json':
        patched = jsonPatch(current, patch);
        break;
      case 'strategic':
        if (t.crd) throw failure415(t);
        patched = strategicMergePatch(current, patch);
        break;
      case 'apply':
        patched = mergePatch(current, stripNulls(patch));
        break;
    }
    const next = this.decode(t, patched);
    const rv = next.metadata?.resourceVersion;
    if (rv && rv !== old.metadata?.resourceVersion) throw conflict(res(t), name);
    if (next.metadata?.name !== name) throw badRequest(`metadata.name: Invalid value: "${next.metadata?.name ?? ''}": field is immutable`);
    return this.commitUpdate(t, old, next, opts, subresource);
  }

  delete(t: ResourceType, namespace: string, name: string, opts: DeleteOptions = {}): KubeObject {
    const old = this.store.get(storageKey(t), this.nsFor(t, namespace), name);
    if (!old) throw notFound(res(t), name);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata?.uid) throw conflict(res(t), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata?.uid ?? ''}`);
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata?.resourceVersion) {
      throw conflict(res(t), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata?.resourceVersion ?? ''}`);
    }
    if (opts.dryRun) return this.present(t, old);
    return this.present(t, this.deleteObject(t, old, opts.propagationPolicy ?? 'Background'));
  }

  /** deletecollection: deletes every matching object (each with delete's semantics). */
  deleteCollection(t: ResourceType, namespace: string | undefined, list: ListOptions, opts: DeleteOptions = {}): KubeObject[] {
    return this.list(t, namespace, list).items.map((o) => this.delete(t, o.metadata?.namespace ?? '', o.metadata?.name ?? '', opts));
  }

  // ---- pod logs ------------------------------------------------------------------------------

  /**
   * Appends to a pod container's log, as the lab node runner does for a pod's command. The
   * container defaults to the pod's first one. Followers (`logs -f`) get the text at once.
   */
  appendPodLog(namespace: string, pod: string, text: string, container?: string): void {
    const p = this.store.get('/pods', namespace, pod);
    const c = container ?? containerNames(p)[0] ?? '';
    const key = `${namespace}/${pod}/${c}`;
    let b = this.logs.get(key);
    if (!b) {
      b = { text: '', followers: new Set() };
      this.logs.set(key, b);
    }
    b.text += text;
    for (const f of b.followers) f(text);
  }

  /** Resolves the container a log request means, with kube's errors for ambiguous or unknown names. */
  logContainer(namespace: string, pod: string, container?: string): string {
    const p = this.store.get('/pods', namespace, pod);
    if (!p) throw notFound({ group: '', plural: 'pods' }, pod);
    const names = containerNames(p);
    if (container) {
      if (names.length && !names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${pod}`);
      return container;
    }
    if (names.length > 1) throw badRequest(`a container name must be specified for pod ${pod}, choose one of: [${names.join(' ')}]`);
    return names[0] ?? '';
  }

  readPodLog(namespace: string, pod: string, container: string): string {
    return this.logs.get(`${namespace}/${pod}/${container}`)?.text ?? '';
  }

  /** Follows a log; `on(null)` marks its end (pod deleted, server closed). Returns a canceller. */
  followPodLog(namespace: string, pod: string, container: string, on: (chunk: string | null) => void): () => void {
    const key = `${namespace}/${pod}/${container}`;
    let b = this.logs.get(key);
    if (!b) {
      b = { text: '', followers: new Set() };
      this.logs.set(key, b);
    }
    b.followers.add(on);
    const buf = b;
    return () => buf.followers.delete(on);
  }

  // ---- convenience for in-process callers (tests, the lab) ------------------------------------

  /** The served type of an object's apiVersion/kind; 404-style ApiError when none. */
  typeOf(apiVersion: string, kind: string): ResourceType {
    const t = this.registry.byKind(apiVersion, kind);
    if (!t) throw failure404Kind(apiVersion, kind);
    return t;
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Sets apiVersion/kind to the served version's (conversion strategy None). */
  private present(t: ResourceType, o: KubeObject): KubeObject {
    return { apiVersion: apiVersionOf(t), kind: t.kind, ...withoutTypeMeta(o) };
  }

  private nsFor(t: ResourceType, namespace: string): string {
    return t.namespaced ? namespace : '';
  }

  private decode(t: ResourceType, body: unknown): KubeObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(`the body of the request must be a JSON object describing a ${t.kind}`);
    const obj = structuredClone(body) as KubeObject;
    if (t.crd && (!obj.apiVersion || !obj.kind)) throw badRequest(`Object 'Kind' is missing in '${JSON.stringify(body).slice(0, 200)}'`);
    if (obj.apiVersion && obj.apiVersion !== apiVersionOf(t)) {
      const known = this.registry.get(t.group, obj.apiVersion.split('/').pop() ?? '', t.plural);
      if (!known || !obj.apiVersion.startsWith(t.group ? `${t.group}/` : '')) {
        throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(t)})`);
      }
    }
    if (obj.kind && obj.kind !== t.kind) throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${t.kind})`);
    if (obj.metadata !== undefined && (obj.metadata === null || typeof obj.metadata !== 'object')) throw badRequest('metadata must be an object');
    obj.apiVersion = apiVersionOf(t);
    obj.kind = t.kind;
    return obj;
  }

  private requireLiveNamespace(t: ResourceType, ns: string, name: string): void {
    const n = this.store.peekOne(NS_TYPE_KEY, '', ns);
    if (!n) throw notFound({ group: '', plural: 'namespaces' }, ns);
    if (n.metadata?.deletionTimestamp) throw forbidden(res(t), name, `unable to create new content in namespace ${ns} because it is being terminated`);
  }

  private crdTerminating(crdName: string): boolean {
    return Boolean(this.store.peekOne(CRD_KEY, '', crdName)?.metadata?.deletionTimestamp);
  }

  private generateName(t: ResourceType, ns: string, prefix: string): string {
    for (let i = 0; i < 20; i++) {
      let s = '';
      for (let j = 0; j < 5; j++) s += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
      const name = `${prefix.slice(0, 58)}${s}`;
      if (!this.store.get(storageKey(t), ns, name)) return name;
    }
    throw alreadyExists(res(t), `${prefix}*`);
  }

  /** Defaults and resets kube applies on create (status is not the client's to set, mostly). */
  private defaultOnCreate(t: ResourceType, obj: KubeObject): void {
    const key = storageKey(t);
    if (key === NS_TYPE_KEY) {
      obj.spec = { ...(obj.spec as object), finalizers: ['kubernetes'] };
      obj.metadata!.labels = { ...obj.metadata!.labels, [NS_NAME_LABEL]: obj.metadata!.name ?? '' };
      obj.status = { phase: 'Active' };
    } else if (key === '/secrets') {
      if (!obj.type) obj.type = 'Opaque';
    } else if (key === '/pods') {
      obj.status = { phase: 'Pending', qosClass: 'BestEffort' };
    } else if (key === CRD_KEY) {
      const fin = (obj.metadata!.finalizers ??= []);
      if (!fin.includes(CRD_FINALIZER)) fin.push(CRD_FINALIZER);
      const spec = obj.spec as { names?: object; versions?: Array<{ name: string; storage?: boolean }> } | undefined;
      const ts = now();
      obj.status = {
        acceptedNames: spec?.names ?? {},
        conditions: [
          { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: ts },
          { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: ts },
        ],
        storedVersions: (spec?.versions ?? []).filter((v) => v.storage).map((v) => v.name),
      };
    } else if (t.subresources.includes('status') && key !== '/nodes') {
      delete obj.status;
    }
  }

  /** Validation (and pruning) of the object about to be stored. Throws 400/422. */
  private admit(t: ResourceType, obj: KubeObject, opts: WriteOptions, old: KubeObject | undefined): void {
    const name = obj.metadata?.name ?? '';
    if (storageKey(t) === CRD_KEY) {
      const causes = crdCauses(obj);
      if (causes.length) throw invalid(t.group, t.kind, name, causes);
      this.checkCrdConflicts(obj);
    }
    if (t.schema) {
      const removed = prune(t.schema, obj);
      if (removed.length) {
        const mode = opts.fieldValidation ?? 'Warn';
        if (mode === 'Strict') throw badRequest(`${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${removed.map((p) => `unknown field "${p}"`).join(', ')}`);
        if (mode === 'Warn') for (const p of removed) opts.warnings?.push(`unknown field "${p}"`);
      }
      const causes: StatusCause[] = schemaCauses(t.schema, obj);
      if (causes.length) throw invalid(t.group, t.kind, name, causes);
    }
    const causes = t.admit?.(obj, old) ?? [];
    if (causes.length) throw invalid(t.group, t.kind, name, causes);
  }

  /** A CRD may not claim a group/plural already served by a built-in or another CRD. */
  private checkCrdConflicts(crd: KubeObject): void {
    const spec = crd.spec as { group: string; names: { plural: string } };
    for (const t of this.registry.all()) {
      if (t.group === spec.group && t.plural === spec.names.plural && t.crd !== crd.metadata?.name) {
        throw invalid('apiextensions.k8s.io', 'CustomResourceDefinition', crd.metadata?.name ?? '', [
          { reason: 'FieldValueInvalid', field: 'spec.names.plural', message: `Invalid value: "${spec.names.plural}": already served by ${t.crd ? `CustomResourceDefinition ${t.crd}` : 'a built-in type'}` },
        ]);
      }
    }
  }

  private commitUpdate(t: ResourceType, old: KubeObject, next: KubeObject, opts: WriteOptions, subresource?: 'status'): KubeObject {
    const hasStatus = t.subresources.includes('status');
    let result: KubeObject;
    if (subresource === 'status') {
      result = structuredClone(old);
      if (next.status === undefined) delete result.status;
      else result.status = next.status;
      if (storageKey(t) === '/pods') {
        // pods/status may carry metadata changes (kubelet's status manager relies on it); not owner refs.
        result.metadata = { ...result.metadata, labels: next.metadata?.labels, annotations: next.metadata?.annotations } as ObjectMeta;
        if (result.metadata.labels === undefined) delete result.metadata.labels;
        if (result.metadata.annotations === undefined) delete result.metadata.annotations;
      }
    } else {
      result = next;
      if (hasStatus) {
        if (old.status === undefined) delete result.status;
        else result.status = old.status;
      }
    }
    const om = old.metadata ?? {};
    const meta: ObjectMeta = (result.metadata ??= {});
    meta.name = om.name;
    if (om.namespace) meta.namespace = om.namespace;
    else delete meta.namespace;
    meta.uid = om.uid;
    meta.creationTimestamp = om.creationTimestamp;
    if (om.deletionTimestamp) meta.deletionTimestamp = om.deletionTimestamp;
    else delete meta.deletionTimestamp;
    meta.resourceVersion = om.resourceVersion;
    if (om.generation !== undefined) meta.generation = om.generation;
    else delete meta.generation;
    if (om.deletionTimestamp) {
      const added = (meta.finalizers ?? []).filter((f) => !(om.finalizers ?? []).includes(f));
      if (added.length) throw invalid(t.group, t.kind, om.name ?? '', [{ reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: 'Forbidden: no new finalizers can be added if the object is being deleted' }]);
    }
    if (meta.finalizers?.length === 0) delete meta.finalizers;
    if (meta.ownerReferences?.length === 0) delete meta.ownerReferences;
    if (storageKey(t) === NS_TYPE_KEY) meta.labels = { ...meta.labels, [NS_NAME_LABEL]: om.name ?? '' };
    this.admit(t, result, opts, old);
    if (t.generation && !same(specOf(old, hasStatus), specOf(result, hasStatus))) meta.generation = (om.generation ?? 0) + 1;
    if (same(result, old)) return this.present(t, old);
    if (opts.dryRun) return this.present(t, result);
    if (meta.deletionTimestamp && !meta.finalizers?.length) return this.present(t, this.removeNow(t, result));
    const stored = this.store.write(storageKey(t), 'MODIFIED', result);
    if (storageKey(t) === CRD_KEY) this.registry.setCrd(stored);
    if (meta.deletionTimestamp || !same(meta.ownerReferences ?? [], om.ownerReferences ?? []) || this.ownersNeedSweep(meta.ownerReferences)) this.scheduleSweep();
    return stored;
  }

  /** Deletion with finalizer and propagation semantics; returns the object as left (or last seen). */
  private deleteObject(t: ResourceType, old: KubeObject, policy: Propagation): KubeObject {
    const meta = old.metadata ?? {};
    if (meta.deletionTimestamp) return old;
    const key = storageKey(t);
    if (policy === 'Orphan') this.orphanDependents(meta.uid ?? '');
    const marked = (finalizers: string[], extra?: (o: KubeObject) => void): KubeObject => {
      const o = structuredClone(old);
      o.metadata = { ...o.metadata, deletionTimestamp: now(), deletionGracePeriodSeconds: 0, finalizers } as Meta;
      if (finalizers.length === 0) delete o.metadata.finalizers;
      extra?.(o);
      const stored = this.store.write(key, 'MODIFIED', o);
      this.scheduleSweep();
      return stored;
    };
    if (key === NS_TYPE_KEY) return marked(meta.finalizers ?? [], (o) => (o.status = { ...(o.status as object), phase: 'Terminating' }));
    if (policy === 'Foreground' && this.dependentsOf(meta.uid ?? '').length) return marked([...(meta.finalizers ?? []), FOREGROUND]);
    if (meta.finalizers?.length) return marked(meta.finalizers);
    return this.removeNow(t, old);
  }

  /** The final removal: DELETED event, and whatever depended on the object being there. */
  private removeNow(t: ResourceType, obj: KubeObject): KubeObject {
    const gone = this.store.write(storageKey(t), 'DELETED', obj);
    const meta = obj.metadata ?? {};
    if (storageKey(t) === '/pods') {
      for (const [k, b] of this.logs) {
        if (k.startsWith(`${meta.namespace}/${meta.name}/`)) {
          for (const f of b.followers) f(null);
          this.logs.delete(k);
        }
      }
    }
    if (storageKey(t) === CRD_KEY) {
      const spec = obj.spec as { group: string; names: { plural: string } };
      this.registry.removeCrd(meta.name ?? '');
      this.store.dropKey(`${spec.group}/${spec.names.plural}`);
    }
    this.scheduleSweep();
    return gone;
  }

  private orphanDependents(uid: string): void {
    for (const { key, object } of this.dependentsOf(uid)) {
      const t = this.typeForKey(key);
      if (!t) continue;
      const o = structuredClone(object);
      o.metadata!.ownerReferences = (o.metadata!.ownerReferences ?? []).filter((r) => r.uid !== uid);
      this.commitUpdate(t, object, o, {});
    }
  }

  private dependentsOf(uid: string): Array<{ key: string; object: KubeObject }> {
    const out = [];
    for (const e of this.store.dependentsOf(uid)) out.push({ key: e.key, object: structuredClone(e.object) as KubeObject });
    return out;
  }

  private typeForKey(key: string): ResourceType | undefined {
    return this.registry.all().find((t) => storageKey(t) === key);
  }

  /**
   * Whether an object with these owners needs the garbage collector: an owner gone or being
   * deleted. A write whose owners are all alive needs no sweep (at 4,096 x 8, one sweep over every
   * object per claim written was quadratic); deletes and deletion marks always sweep.
   */
  private ownersNeedSweep(refs: readonly OwnerReference[] | undefined): boolean {
    return (refs ?? []).some((r) => {
      const o = this.store.peekUid(r.uid);
      return !o || o.metadata?.deletionTimestamp !== undefined;
    });
  }

  /** Runs the controllers (GC, namespace, CRD cleanup) soon, once per burst of writes. */
  private scheduleSweep(): void {
    if (this.sweepScheduled || this.closed) return;
    this.sweepScheduled = setImmediate(() => {
      this.sweepScheduled = undefined;
      for (let round = 0; round < 100 && !this.closed; round++) if (!this.sweepOnce()) break;
    });
  }

  /**
   * One pass of the controllers kube-controller-manager and the apiextensions server run:
   * - garbage collector: a dependent whose owners are all gone is deleted (background); references
   *   to owners that are gone are dropped when others remain; a `foregroundDeletion` owner waits
   *   until its dependents are gone;
   * - namespace controller: a terminating namespace's contents are deleted, then the namespace;
   * - CRD finalizer: a deleted CRD's objects are deleted, then the CRD and its endpoints.
   * Returns whether it changed anything (the caller repeats until quiet).
   */
  private sweepOnce(): boolean {
    let changed = false;
    // Only what the store's index says may need work: objects being deleted, objects whose owner
    // is gone. The rest are skipped without being looked at.
    const all = this.store.needsAttention();
    const uids = { has: (uid: string | undefined) => uid !== undefined && this.store.hasUid(uid) };
    const alive = (key: string, o: Readonly<KubeObject>): KubeObject | undefined => this.store.get(key, o.metadata?.namespace ?? '', o.metadata?.name ?? '');
    for (const { key, object: snap } of all) {
      // Anything this pass changes sets `changed`, and the next pass sees it.
      const sm = snap.metadata;
      if (!sm?.deletionTimestamp && (sm?.ownerReferences ?? []).every((r) => uids.has(r.uid))) continue;
      const t = this.typeForKey(key);
      const object = alive(key, snap);
      if (!t || !object) continue;
      const meta = object.metadata ?? {};
      const refs: OwnerReference[] = meta.ownerReferences ?? [];
      if (refs.length && !meta.deletionTimestamp) {
        const live = refs.filter((r) => uids.has(r.uid));
        if (live.length === 0) {
          this.deleteObject(t, object, 'Background');
          changed = true;
          continue;
        }
        if (live.length < refs.length) {
          const o = structuredClone(object);
          o.metadata!.ownerReferences = live;
          this.commitUpdate(t, object, o, {});
          changed = true;
          continue;
        }
      }
      if (!meta.deletionTimestamp) continue;
      if (meta.finalizers?.includes(FOREGROUND)) {
        const deps = this.dependentsOf(meta.uid ?? '');
        for (const d of deps) {
          const dt = this.typeForKey(d.key);
          if (dt && !d.object.metadata?.deletionTimestamp) {
            this.deleteObject(dt, d.object, 'Foreground');
            changed = true;
          }
        }
        if (this.dependentsOf(meta.uid ?? '').length === 0) {
          this.dropFinalizer(t, object, FOREGROUND);
          changed = true;
        }
        continue;
      }
      if (key === NS_TYPE_KEY) {
        // A terminating namespace (rare): its contents are found by a scan.
        const contents = [...this.store.peek()].filter((e) => e.object.metadata?.namespace === meta.name && this.typeForKey(e.key)?.namespaced);
        const remaining = contents.map((e) => ({ t: this.typeForKey(e.key), o: alive(e.key, e.object) })).filter((x) => x.o);
        for (const { t: ct, o } of remaining) if (ct && o && !o.metadata?.deletionTimestamp) this.deleteObject(ct, o, 'Background');
        if (remaining.length === 0) {
          // Empty: the namespace controller's own finalizer goes; user finalizers still hold it.
          const spec = (object.spec ?? {}) as { finalizers?: string[] };
          const o = structuredClone(object);
          o.spec = { ...spec, finalizers: [] };
          if (!meta.finalizers?.length) {
            this.removeNow(t, o);
            changed = true;
          } else if (spec.finalizers?.length) {
            this.store.write(key, 'MODIFIED', o);
            changed = true;
          }
        }
        if (remaining.some((x) => !x.o?.metadata?.deletionTimestamp)) changed = true;
        continue;
      }
      if (key === CRD_KEY && meta.finalizers?.includes(CRD_FINALIZER)) {
        const spec = object.spec as { group: string; names: { plural: string } };
        const ik = `${spec.group}/${spec.names.plural}`;
        const instances = this.store.list(ik);
        const it = this.typeForKey(ik);
        for (const o of instances) {
          if (it && !o.metadata?.deletionTimestamp) {
            this.deleteObject(it, o, 'Background');
            changed = true;
          }
        }
        if (this.store.list(ik).length === 0) {
          this.dropFinalizer(t, object, CRD_FINALIZER);
          changed = true;
        }
      }
    }
    return changed;
  }

  private dropFinalizer(t: ResourceType, object: KubeObject, finalizer: string): void {
    const o = structuredClone(object);
    o.metadata!.finalizers = (o.metadata!.finalizers ?? []).filter((f) => f !== finalizer);
    if (o.metadata!.finalizers.length === 0) this.removeNow(t, o);
    else this.store.write(storageKey(t), 'MODIFIED', o);
  }
}

function withoutTypeMeta(o: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

/** What counts as a spec change for metadata.generation. */
function specOf(o: KubeObject, hasStatusSubresource: boolean): unknown {
  const { metadata: _m, status, apiVersion: _a, kind: _k, ...rest } = o;
  return hasStatusSubresource ? rest : { ...rest, status };
}

function containerNames(pod: KubeObject | undefined): string[] {
  const spec = pod?.spec as { containers?: Array<{ name?: string }> } | undefined;
  return (spec?.containers ?? []).map((c) => c.name ?? '').filter((n) => n !== '');
}

function stripNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripNulls);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, stripNulls(x)]));
  }
  return v;
}

function failure415(t: ResourceType): ApiError {
  return new ApiError({
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 415, reason: 'UnsupportedMediaType',
    message: `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (strategic merge patch is not supported for custom resource ${t.plural}.${t.group})`,
  });
}

function failure404Kind(apiVersion: string, kind: string): ApiError {
  return new ApiError({
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 404, reason: 'NotFound',
    message: `the server could not find the requested resource (no kind "${kind}" is registered for version "${apiVersion}")`,
  });
}

/**
 * The continue token: base64 of `{v, rv, start}` like kube-apiserver's (opaque to clients; only
 * this server reads it back). `start` is the last key served: the next page begins after it.
 */
function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown; rv?: unknown; start?: unknown };
    if (t.v === 'meta.k8s.io/v1' && typeof t.rv === 'number' && Number.isInteger(t.rv) && t.rv >= 0 && typeof t.start === 'string') return { rv: t.rv, start: t.start };
  } catch {
    // falls through to the error below
  }
  throw badRequest(`continue key is not valid: the continue token "${token.slice(0, 40)}" was not issued by this server; start the list again without it`);
}
