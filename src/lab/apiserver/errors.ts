// Kubernetes `Status` failures as kube-apiserver writes them (k8s.io/apimachinery/pkg/api/errors):
// the same reasons, codes, messages and `details`, so clients that branch on `reason` or `code`
// (client-node, kubectl's "Error from server (NotFound): ...") behave as against a real cluster.

/** The reasons the stand-in can answer with (a subset of metav1.StatusReason). */
export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'MethodNotAllowed'
  | 'Gone'
  | 'InternalError'
  | 'Forbidden'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'Expired'
  | 'RequestEntityTooLarge'
  | 'Timeout';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** metav1.Status with status Failure. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: StatusReason | '';
  details?: StatusDetails;
  code: number;
}

/** A failure the HTTP layer turns into a `Status` body with `code` as the HTTP status. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
    this.name = 'ApiError';
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string {
    return this.status.reason;
  }
}

/** The resource as errors name it: `pods`, `multinicnetworks.multinic.fms.io`. */
export interface QualifiedResource {
  group: string;
  plural: string;
}

const qualified = (r: QualifiedResource): string => (r.group ? `${r.plural}.${r.group}` : r.plural);

export function failure(code: number, reason: StatusReason, message: string, details?: StatusDetails): ApiError {
  const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) status.details = details;
  return new ApiError(status);
}

export const notFound = (r: QualifiedResource, name: string): ApiError =>
  failure(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, group: r.group, kind: r.plural });

export const alreadyExists = (r: QualifiedResource, name: string): ApiError =>
  failure(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, { name, group: r.group, kind: r.plural });

/** Optimistic-concurrency failure: the caller's resourceVersion is stale (or a precondition failed). */
export const conflict = (r: QualifiedResource, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError =>
  failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, { name, group: r.group, kind: r.plural });

/** 422 with one cause per field error, worded like apimachinery's field.ErrorList. */
export function invalid(group: string, kind: string, name: string, causes: StatusCause[]): ApiError {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const summary = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return failure(422, 'Invalid', `${kind}${group ? `.${group}` : ''} "${name}" is invalid: ${summary}`, { name, group, kind, causes });
}

export const badRequest = (message: string): ApiError => failure(400, 'BadRequest', message);

export const methodNotAllowed = (message: string): ApiError => failure(405, 'MethodNotAllowed', message);

export const forbidden = (r: QualifiedResource, name: string, why: string): ApiError =>
  failure(403, 'Forbidden', `${qualified(r)} "${name}" is forbidden: ${why}`, { name, group: r.group, kind: r.plural });

/** The resourceVersion a watch asked for left the history window; clients must re-list. */
export const gone = (message: string): ApiError => failure(410, 'Expired', message);

/**
 * etcd refuses a value over its --max-request-bytes (default 1.5 MiB); kube-apiserver (since 1.11)
 * passes etcd's own message on as a 413 RequestEntityTooLarge, before that a 500
 * (https://github.com/kubernetes/kubernetes/issues/74600).
 */
export const etcdTooLarge = (): ApiError => failure(413, 'RequestEntityTooLarge', 'etcdserver: request is too large');

/** The HTTP layer's own limit on a request body (kube-apiserver's MaxRequestBodyBytes, 3 MiB). */
export const bodyTooLarge = (limit: number): ApiError => failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);

export const internalError = (message: string): ApiError =>
  failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });

export const tooManyRequests = (retryAfterSeconds: number): ApiError =>
  failure(429, 'TooManyRequests', 'the server has received too many requests and has asked us to try again later', { retryAfterSeconds });

export const unsupportedMediaType = (type: string): ApiError =>
  failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got ${type || 'none'})`);

export function toStatus(err: unknown): Status {
  if (err instanceof ApiError) return err.status;
  return internalError(err instanceof Error ? err.message : String(err)).status;
}
