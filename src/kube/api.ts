// KubeApi: the only Kubernetes calls the product makes (docs/conventions.md §4). Real adapter in ./client.ts,
// built at entry points only; tests run it against the API stand-in (src/lab/apiserver).
import type { KubeObject, ObjectMeta } from '../lib/k8s/meta.js';
import type { ResourceRef } from '../lib/k8s/resources.js';
import { ClusterUnreachableError } from '../lib/errors.js';

/** Any object with metadata: generated CRD types and KubeObject both fit. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ObjectList<T> {
  items: T[];
  resourceVersion: string;
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface WriteOptions {
  /** Server-side dry run (`dryRun=All`). */
  dryRun?: boolean;
  /** `fieldManager` query parameter. */
  fieldManager?: string;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchHandle {
  /** Stops the watch; `done` then resolves. */
  stop(): void;
  /** Resolves when the stream ends (server timeout, error, stop). Rejects on transport errors. */
  done: Promise<void>;
}

/** A Kubernetes API error with its `Status` reason (NotFound, Conflict, AlreadyExists, Invalid, Gone...). */
/**
 * The API's message when `e` is a 403 (RBAC denied this request): the real client reports it as a
 * ClusterUnreachableError (exit 3), an adapter may as an ApiError. Undefined for anything else.
 */
export function forbiddenMessage(e: unknown): string | undefined {
  if (e instanceof ApiError && e.code === 403) return e.message;
  if (e instanceof ClusterUnreachableError && e.httpStatus === 403) return e.apiMessage ?? e.message;
  return undefined;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly status?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.code === 409 && e.reason === 'Conflict';
export const isAlreadyExists = (e: unknown): boolean => e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';

export interface KubeApi {
  /** The API server URL this client talks to (for messages). */
  readonly server: string;
  /** The default namespace (from -n, the context, or "default"). */
  readonly namespace: string;
  get<T extends KObject = KubeObject>(r: ResourceRef, name: string, namespace?: string): Promise<T | undefined>;
  list<T extends KObject = KubeObject>(r: ResourceRef, opts?: ListOptions): Promise<ObjectList<T>>;
  create<T extends KObject = KubeObject>(r: ResourceRef, obj: T, opts?: WriteOptions): Promise<T>;
  /** PUT with the object's resourceVersion: rejects with a 409 Conflict ApiError when stale. */
  replace<T extends KObject = KubeObject>(r: ResourceRef, obj: T, opts?: WriteOptions & { subresource?: 'status' }): Promise<T>;
  patch<T extends KObject = KubeObject>(
    r: ResourceRef,
    name: string,
    patch: unknown,
    opts?: WriteOptions & { type?: PatchType; namespace?: string; subresource?: 'status' },
  ): Promise<T>;
  /** Deletes; resolves false when it was already gone. */
  delete(r: ResourceRef, name: string, namespace?: string, opts?: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan' }): Promise<boolean>;
  watch<T extends KObject = KubeObject>(
    r: ResourceRef,
    opts: ListOptions & { resourceVersion?: string; timeoutSeconds?: number },
    onEvent: (e: WatchEvent<T>) => void,
  ): WatchHandle;
  /** A container's log; tailLines / limitBytes as kubectl logs --tail / --limit-bytes. */
  podLog(namespace: string, name: string, opts?: { container?: string; tailLines?: number; limitBytes?: number }): Promise<string>;
  /** GET /version: used to tell "unreachable" from "not authorised" early. */
  version(): Promise<{ gitVersion?: string }>;
}
