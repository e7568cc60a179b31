// CNI error objects (CNI SPEC "Error"): every failure the plugin reports is one of these, printed
// on stdout as `{cniVersion, code, msg, details}` with a non-zero exit. Codes 1-99 are the spec's;
// 100+ are ours and stable (runtimes and `doctor` may match on them).

export const CniCode = {
  /** Incompatible CNI version. */
  IncompatibleVersion: 1,
  /** Unsupported field in the network configuration. */
  UnsupportedField: 2,
  /** Container unknown or does not exist. */
  UnknownContainer: 3,
  /** Invalid necessary environment variables (CNI_COMMAND, CNI_NETNS, ...). */
  InvalidEnv: 4,
  /** I/O failure (e.g. cannot read stdin). */
  Io: 5,
  /** Failed to decode content (stdin is not JSON, prevResult malformed). */
  Decode: 6,
  /** Invalid network config. */
  InvalidNetConf: 7,
  /** Transient: the runtime may retry (the agent is restarting or not ready). */
  TryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADD now (agent unreachable). */
  PluginNotAvailable: 50,
  /** The agent answered with an error we do not classify more precisely. */
  AgentFailed: 100,
  /** The agent found no host NIC matching the selection (masters, class, nics). */
  NoMatchingNic: 101,
  /** A pool has no free address. */
  PoolExhausted: 102,
  /** The pod's device class does not exist. */
  UnknownDeviceClass: 103,
  /** The network is unknown to the agent on this node. */
  UnknownNetwork: 104,
  /** A delegate (macvlan, ipvlan, sriov, host-device) failed. */
  DelegateFailed: 105,
  /** CHECK found the pod's interfaces, addresses or routes not as allocated. */
  CheckFailed: 106,
  /** A bug in this plugin. */
  Internal: 199,
} as const;
export type CniCode = (typeof CniCode)[keyof typeof CniCode];

/** The JSON error object of the CNI spec. */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** A failure with its CNI code; `msg` says what failed and where, `details` how to fix or the cause. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): CniErrorJson {
    const out: CniErrorJson = { cniVersion, code: this.code, msg: this.message };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Classifies anything thrown: CniError stays, anything else is a bug (code 199, with its stack in details). */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof Error) return new CniError(CniCode.Internal, `internal error: ${err.message}`, err.stack);
  return new CniError(CniCode.Internal, `internal error: ${String(err)}`);
}
