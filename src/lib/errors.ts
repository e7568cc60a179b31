// The two kinds of user-facing error (style §7) and the process exit codes (design §3.4).

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
  constructor(message: string, opts: { hint?: string } = {}) {
    super(message, { ...opts, exitCode: ExitCode.Cluster });
    this.name = 'ClusterUnreachableError';
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
