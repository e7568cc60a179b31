// The two kinds of user-facing error (docs/conventions.md §7) and the process exit codes (docs/design.md §3.4).

/** Exit codes of every `kubectl multinic` command. */
export const ExitCode = {
  Ok: 0,
  /** The command ran and found problems (check/doctor failures, hosts that do not fit). */
  Problems: 1,
  /** Usage or input error. */
  Usage: 2,
  /** Cannot reach or authenticate to the cluster. */
  Cluster: 3,
  /** A bug: anything not classified above. */
  Internal: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Something the user can fix. Printed without a stack: the message says what and where, the hint
 * how to fix it.
 */
export class UserError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  constructor(message: string, opts: { hint?: string; exitCode?: ExitCode } = {}) {
    super(message);
    this.name = 'UserError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? ExitCode.Usage;
  }
}

/** The cluster could not be reached or refused our credentials (exit 3). */
export class ClusterUnreachableError extends UserError {
  /** The HTTP status of a refusal (401, 403), with the API's own message, when the API answered. */
  readonly httpStatus: number | undefined;
  readonly apiMessage: string | undefined;
  constructor(message: string, opts: { hint?: string; httpStatus?: number; apiMessage?: string } = {}) {
    super(message, { ...(opts.hint === undefined ? {} : { hint: opts.hint }), exitCode: ExitCode.Cluster });
    this.name = 'ClusterUnreachableError';
    this.httpStatus = opts.httpStatus;
    this.apiMessage = opts.apiMessage;
  }
}

/** Wraps a cause as `failed to <verb> <object> "<id>": <cause>` keeping the cause's class semantics. */
export function wrapError(what: string, cause: unknown): Error {
  const msg = cause instanceof Error ? cause.message : String(cause);
  if (cause instanceof UserError) {
    return new UserError(`${what}: ${msg}`, { hint: cause.hint, exitCode: cause.exitCode });
  }
  return new Error(`${what}: ${msg}`, { cause });
}
