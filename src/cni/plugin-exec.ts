// Finding and running delegate CNI plugins (macvlan, ipvlan, ...) from CNI_PATH, as libcni's
// invoke package does: config on stdin, CNI_* in the environment, result or error JSON on stdout.
// Not src/host/exec.ts: a failed plugin's error object is on stdout, which CommandError drops.
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from '../lib/cni/errors.js';
import { cniPathEntryProblem, pluginNameProblem } from '../lib/cni/names.js';

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

/** The delegate-running port (style §4); tests substitute it to count or fail calls. */
export type InvokePlugin = (type: string, config: Record<string, unknown>, opts: InvokeOptions) => Promise<unknown>;

/** Runs a plugin binary; resolves its decoded stdout (undefined when empty), rejects with DelegateError. */
export const invokePlugin: InvokePlugin = (type, config, opts) => {
  const path = findPlugin(type, opts.cniPath);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: opts.command,
    CNI_CONTAINERID: opts.containerID,
    CNI_NETNS: opts.netns,
    CNI_IFNAME: opts.ifName,
    CNI_ARGS: opts.args,
    CNI_PATH: opts.cniPath.join(':'),
  };
  return new Promise((resolve, reject) => {
    const child = execFile(path, [], { env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const text = stdout.trim();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!err) {
        if (text && parsed === undefined) reject(new DelegateError(type, CniCode.Decode, `${type} printed a result that is not JSON`, text.slice(0, 300)));
        else resolve(parsed);
        return;
      }
      const e = parsed as { code?: unknown; msg?: unknown; details?: unknown } | undefined;
      if (e && typeof e.msg === 'string') {
        reject(new DelegateError(type, typeof e.code === 'number' ? e.code : 999, e.msg, typeof e.details === 'string' && e.details ? e.details : undefined));
      } else {
        const killed = (err as { killed?: boolean }).killed;
        const why = killed ? `timed out after ${opts.timeoutMs ?? 120_000} ms` : (stderr.trim() || text || err.message);
        reject(new DelegateError(type, 999, `${type} ${opts.command} failed: ${why}`));
      }
    });
    // A delegate may exit without reading stdin (crash, bad env): its exit status tells, not EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(config));
  });
};
