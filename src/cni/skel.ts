// The CNI dispatcher, shaped like containernetworking's pkg/skel: reads CNI_* and stdin through an
// injectable CniIo, validates what the spec requires per command, calls the plugin's handler and
// prints either the result or `{cniVersion, code, msg, details}` on stdout. Returns the exit code
// (0 ok, 1 error) so tests can drive it in-process.
import { decodeStdin } from '../lib/cni/config.js';
import { CniCode, CniError, toCniError } from '../lib/cni/errors.js';
import { cniPathEntryProblem, ifNameProblem } from '../lib/cni/names.js';
import {
  LATEST_VERSION,
  SUPPORTED_VERSIONS,
  isSupportedVersion,
  supportsCheck,
  supportsStatusAndGc,
} from '../lib/cni/version.js';

/** What a handler gets: the CNI_* environment, decoded, plus the raw stdin. */
export interface CmdArgs {
  containerID: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS, raw. */
  args: string;
  /** CNI_PATH split on ':'. */
  path: string[];
  stdinData: string;
  /** The environment, for settings such as MULTINIC_AGENT_SOCKET. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface CniHandlers {
  add(a: CmdArgs): Promise<Record<string, unknown>>;
  del(a: CmdArgs): Promise<void>;
  check(a: CmdArgs): Promise<void>;
  status(a: CmdArgs): Promise<void>;
  gc(a: CmdArgs): Promise<void>;
}

export interface CniIo {
  env: Readonly<Record<string, string | undefined>>;
  readStdin(): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
}

type Command = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';

/** Env variables each command requires (CNI SPEC "Parameters"; DEL tolerates a missing netns). */
const REQUIRED: Record<Exclude<Command, 'VERSION'>, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  STATUS: ['CNI_PATH'],
  GC: ['CNI_PATH'],
};

function validateContainerId(id: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(id)) {
    throw new CniError(CniCode.InvalidEnv, 'invalid characters in CNI_CONTAINERID', `got "${id}"; allowed: letters, digits, "_", "." and "-", starting with a letter or digit`);
  }
}

function validateIfName(name: string): void {
  const bad = ifNameProblem(name);
  if (bad) throw new CniError(CniCode.InvalidEnv, `CNI_IFNAME ${JSON.stringify(name)} ${bad}`, 'the pod network annotation\'s "interface" (or the runtime) names the interface: use a short name such as net1');
}

/** CNI_NETNS reaches nsenter/ip as a path: absolute only (the spec's /run/netns/<name> or /proc/<pid>/ns/net). */
function validateNetns(netns: string): void {
  if (netns !== '' && !netns.startsWith('/')) throw new CniError(CniCode.InvalidEnv, `CNI_NETNS ${JSON.stringify(netns)} is not an absolute path`, 'the runtime must pass the network namespace as a path such as /run/netns/<name>');
}

/** Relative CNI_PATH entries would be searched from the runtime's cwd: refused before anything runs. */
function validateCniPath(path: string[]): void {
  for (const dir of path) {
    const bad = cniPathEntryProblem(dir);
    if (bad) throw new CniError(CniCode.InvalidEnv, `CNI_PATH entry ${JSON.stringify(dir)} ${bad}`, 'the runtime must set CNI_PATH to absolute directories separated by ":"');
  }
}

/** Runs one CNI invocation end to end; never throws. */
export async function dispatch(io: CniIo, handlers: CniHandlers): Promise<number> {
  let version: string = LATEST_VERSION;
  try {
    const command = io.env['CNI_COMMAND'] ?? '';
    if (command === '') {
      throw new CniError(CniCode.InvalidEnv, 'required env variables [CNI_COMMAND] missing', 'this is a CNI plugin: a container runtime (Multus, CRI-O, containerd, podman) runs it');
    }
    if (!['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'].includes(command)) {
      throw new CniError(CniCode.InvalidEnv, `unknown CNI_COMMAND: ${command}`, 'expected ADD, DEL, CHECK, STATUS, GC or VERSION');
    }
    let stdinData: string;
    try {
      stdinData = await io.readStdin();
    } catch (e) {
      throw new CniError(CniCode.Io, `error reading from stdin: ${(e as Error).message}`);
    }
    if (command === 'VERSION') {
      let asked: unknown;
      try {
        asked = stdinData.trim() ? (JSON.parse(stdinData) as { cniVersion?: unknown }).cniVersion : undefined;
      } catch {
        asked = undefined;
      }
      const v = typeof asked === 'string' && isSupportedVersion(asked) ? asked : LATEST_VERSION;
      io.stdout(`${JSON.stringify({ cniVersion: v, supportedVersions: SUPPORTED_VERSIONS })}\n`);
      return 0;
    }
    const cmd = command as Exclude<Command, 'VERSION'>;
    const missing = REQUIRED[cmd].filter((k) => !io.env[k]);
    // The config's version decides the error's version, so decode it before reporting env problems.
    const raw = decodeStdin(stdinData);
    if (typeof raw['cniVersion'] === 'string' && isSupportedVersion(raw['cniVersion'])) version = raw['cniVersion'];
    if (missing.length > 0) throw new CniError(CniCode.InvalidEnv, `required env variables [${missing.join(' ')}] missing`);
    const v = raw['cniVersion'];
    if (typeof v === 'string' && !isSupportedVersion(v)) {
      throw new CniError(CniCode.IncompatibleVersion, `incompatible CNI versions; config is "${v}", plugin supports [${SUPPORTED_VERSIONS.join(' ')}]`, `set "cniVersion" to one of ${SUPPORTED_VERSIONS.join(', ')}`);
    }
    if (cmd === 'CHECK' && typeof v === 'string' && !supportsCheck(v)) {
      throw new CniError(CniCode.IncompatibleVersion, `config version "${v}" does not allow CHECK`, 'CHECK exists from cniVersion 0.4.0');
    }
    if ((cmd === 'STATUS' || cmd === 'GC') && typeof v === 'string' && !supportsStatusAndGc(v)) {
      throw new CniError(CniCode.IncompatibleVersion, `config version "${v}" does not allow ${cmd}`, `${cmd} exists from cniVersion 1.1.0`);
    }
    const a: CmdArgs = {
      containerID: io.env['CNI_CONTAINERID'] ?? '',
      netns: io.env['CNI_NETNS'] ?? '',
      ifName: io.env['CNI_IFNAME'] ?? '',
      args: io.env['CNI_ARGS'] ?? '',
      path: (io.env['CNI_PATH'] ?? '').split(':').filter((p) => p !== ''),
      stdinData,
      env: io.env,
    };
    if (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') {
      validateContainerId(a.containerID);
      validateIfName(a.ifName);
      validateNetns(a.netns);
    }
    validateCniPath(a.path);
    switch (cmd) {
      case 'ADD': {
        const result = await handlers.add(a);
        io.stdout(`${JSON.stringify(result)}\n`);
        break;
      }
      case 'DEL':
        await handlers.del(a);
        break;
      case 'CHECK':
        await handlers.check(a);
        break;
      case 'STATUS':
        await handlers.status(a);
        break;
      case 'GC':
        await handlers.gc(a);
        break;
    }
    return 0;
  } catch (err) {
    const e = toCniError(err);
    io.stdout(`${JSON.stringify(e.toJSON(version))}\n`);
    if (e.code === CniCode.Internal && e.details) io.stderr(`${e.details}\n`);
    return 1;
  }
}
