// Finding and running delegate CNI plugins (macvlan, ipvlan, ...) from CNI_PATH, as libcni's
// invoke package does: config on stdin, CNI_* in the environment, result or error JSON on stdout.
// Not src/host/exec.ts: a failed plugin's error object is on stdout, which CommandError drops.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from '../lib/cni/errors.js';
import { cniPathEntryProblem, pluginNameProblem } from '../lib/cni/names.js';
import { formatResult, parseResult } from '../lib/cni/result.js';
import { negotiateVersion } from '../lib/cni/version.js';
import { runBinary } from './spawn.js';
import { binaryStamp, versionList, type VersionMemory } from './version-memory.js';

/** A delegate answered with a CNI error object (or garbage); `code`/`msg` are the delegate's. */
export class DelegateError extends Error {
  constructor(
    readonly plugin: string,
    readonly code: number,
    readonly msg: string,
    readonly details?: string,
  ) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = 'DelegateError';
  }
}

/**
 * Full path of plugin `type` in the first CNI_PATH directory that has it as an executable regular
 * file. The one gate every plugin execution passes: `type` must be a bare file name and every
 * CNI_PATH entry absolute (src/lib/cni/names.ts), whatever the caller checked before.
 */
export function findPlugin(type: string, cniPath: string[]): string {
  const bad = pluginNameProblem(type);
  if (bad) throw new CniError(CniCode.InvalidNetConf, `plugin type ${JSON.stringify(type)} ${bad}`, 'name a plugin installed in the CNI bin directory, e.g. "macvlan" or "host-local"');
  for (const dir of cniPath) {
    const why = cniPathEntryProblem(dir);
    if (why) throw new CniError(CniCode.InvalidEnv, `CNI_PATH entry ${JSON.stringify(dir)} ${why}`, 'the runtime must set CNI_PATH to absolute directories separated by ":"');
  }
  for (const dir of cniPath) {
    const p = join(dir, type);
    try {
      if (!statSync(p).isFile()) continue;
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // try the next directory
    }
  }
  throw new CniError(CniCode.InvalidEnv, `failed to find plugin "${type}" in CNI_PATH [${cniPath.join(':')}]`, `install the reference CNI plugins (containernetworking-plugins) or add their directory to CNI_PATH`);
}

export interface InvokeOptions {
  command: 'ADD' | 'DEL' | 'CHECK';
  containerID: string;
  netns: string;
  ifName: string;
  args: string;
  cniPath: string[];
  timeoutMs?: number;
}

/** The delegate-running port (docs/conventions.md §4); tests substitute it to count or fail calls. */
export type InvokePlugin = (type: string, config: Record<string, unknown>, opts: InvokeOptions) => Promise<unknown>;

const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' });

/** Asks the binary at `path` VERSION: the versions it supports, undefined when it gives none. */
function askVersion(path: string, asked: string): Promise<string[] | undefined> {
  return runBinary(path, { ...baseEnv(), CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: asked }), 10_000).then(({ err, stdout }) => {
    if (err) return undefined;
    try {
      return versionList((JSON.parse(stdout) as { supportedVersions?: unknown }).supportedVersions);
    } catch {
      return undefined;
    }
  });
}

interface Supported {
  versions: string[] | undefined;
  /** From the host's memory (src/cni/version-memory.ts), not asked in this process. */
  remembered: boolean;
}

/**
 * A delegate runner. The CNI versions each delegate binary supports come from its VERSION answer,
 * asked once per binary per runner (concurrent NICs share the answer) and, with `memory`, once per
 * binary file across processes: each CNI call is a process, and the shipped plugin remembers the
 * answers on the host (src/cni/main.ts). A delegate that refuses a remembered version (code 1) is
 * asked again and run once more in the version its fresh answer allows.
 */
export function createInvokePlugin(memory?: VersionMemory): InvokePlugin {
  const asking = new Map<string, Promise<Supported>>();
  const supported = (path: string, asked: string): Promise<Supported> => {
    let p = asking.get(path);
    if (!p) {
      const stamp = memory ? binaryStamp(path) : undefined;
      const known = stamp !== undefined ? memory?.read(path, stamp) : undefined;
      p = known
        ? Promise.resolve({ versions: known, remembered: true })
        : askVersion(path, asked).then((versions) => {
            if (versions && stamp !== undefined) memory?.write(path, stamp, versions);
            return { versions, remembered: false };
          });
      asking.set(path, p);
    }
    return p;
  };

  const invoke: InvokePlugin = async (type, config, opts) => {
    const path = findPlugin(type, opts.cniPath);
    const asked = typeof config['cniVersion'] === 'string' ? config['cniVersion'] : undefined;
    if (!asked) return runAt(type, path, config, config, undefined, opts);
    const pending = supported(path, asked);
    const first = await pending;
    const [sent, used] = negotiated(type, path, config, asked, first.versions);
    try {
      return await runAt(type, path, config, sent, used, opts);
    } catch (err) {
      if (!first.remembered || !(err instanceof DelegateError) || err.code !== CniCode.IncompatibleVersion) throw err;
      // The remembered answer was wrong for this binary: ask it, and run it once more if that changes the version.
      if (asking.get(path) === pending) {
        memory?.forget(path);
        asking.delete(path);
      }
      const again = negotiated(type, path, config, asked, (await supported(path, asked)).versions);
      if (again[1] === used) throw err;
      return runAt(type, path, config, ...again, opts);
    }
  };
  return invoke;
}

/**
 * The config to send and the version it is in: the highest CNI version both the config and the
 * plugin support (its prevResult re-encoded in that version), as the CNI spec's versioning asks
 * (https://github.com/containernetworking/cni/blob/main/SPEC.md, "Version"). CniError code 1 when
 * the two have no version in common.
 */
function negotiated(type: string, path: string, config: Record<string, unknown>, asked: string, supported: string[] | undefined): [Record<string, unknown>, string] {
  const v = supported ? negotiateVersion(asked, supported) : asked;
  if (v === undefined) {
    throw new CniError(CniCode.IncompatibleVersion, `plugin ${type} (${path}) supports CNI versions [${(supported ?? []).join(' ')}], none usable with config version ${asked}`, 'install a newer build of the plugin or lower the network\'s cniVersion');
  }
  if (v === asked) return [config, asked];
  const sent: Record<string, unknown> = { ...config, cniVersion: v };
  const prev = config['prevResult'];
  if (prev !== undefined && prev !== null) sent['prevResult'] = formatResult(parseResult(prev), v);
  return [sent, v];
}

/**
 * Runs a plugin binary on `sent` (in version `used`), and resolves its decoded stdout in the
 * config's own version again (undefined when empty). Rejects with DelegateError.
 */
async function runAt(type: string, path: string, config: Record<string, unknown>, sent: Record<string, unknown>, used: string | undefined, opts: InvokeOptions): Promise<unknown> {
  const asked = typeof config['cniVersion'] === 'string' ? config['cniVersion'] : undefined;
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    CNI_COMMAND: opts.command,
    CNI_CONTAINERID: opts.containerID,
    CNI_NETNS: opts.netns,
    CNI_IFNAME: opts.ifName,
    CNI_ARGS: opts.args,
    CNI_PATH: opts.cniPath.join(':'),
  };
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const { err, stdout, stderr } = await runBinary(path, env, JSON.stringify(sent), timeoutMs);
  const text = stdout.trim();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!err) {
    if (text && parsed === undefined) throw new DelegateError(type, CniCode.Decode, `${type} printed a result that is not JSON`, text.slice(0, 300));
    // The result back in the version our caller asked for (an ADD's; DEL and CHECK print nothing).
    if (parsed !== undefined && asked && used !== asked) return formatResult(parseResult(parsed), asked);
    return parsed;
  }
  const e = parsed as { code?: unknown; msg?: unknown; details?: unknown } | undefined;
  if (e && typeof e.msg === 'string') {
    throw new DelegateError(type, typeof e.code === 'number' ? e.code : 999, e.msg, typeof e.details === 'string' && e.details ? e.details : undefined);
  }
  const why = err.killed ? `timed out after ${timeoutMs} ms` : (stderr.trim() || text || err.message);
  throw new DelegateError(type, 999, `${type} ${opts.command} failed: ${why}`);
}

/** The runner for processes that live long (the agent's health checks): answers kept in memory only. */
export const invokePlugin: InvokePlugin = createInvokePlugin();
