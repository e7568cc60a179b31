import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { parseDuration } from '../kube/client.js';

export interface SysdumpResult {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'SysdumpResult';
  path: string;
  bytes: number;
  files: number;
  errors: Array<{ step: string; error: string }>;
  skipped: Array<{ name: string; reason: string }>;
}

const SIZE = /^(\d+)(Ki|Mi|Gi)?$/;
function parseSize(text: string): number {
  const m = SIZE.exec(text);
  if (!m) throw new UserError(`--max-size "${text}" is not a size`, { hint: 'e.g. 50Mi, 512Ki or a number of bytes' });
  return Number(m[1]) * (m[2] === 'Gi' ? 2 ** 30 : m[2] === 'Mi' ? 2 ** 20 : m[2] === 'Ki' ? 2 ** 10 : 1);
}

export default class SysdumpCommand extends BaseCommand<typeof SysdumpCommand> {
  static override summary = 'Write one archive for a bug report: our resources, agent logs, node diagnostics, doctor report, versions.';
  static override description = `Collects through the API only (no exec, no node access): every MultiNicNetwork, CIDR, IPPool,
HostInterface and DeviceClass, our CRDs, the NADs, the agent DaemonSet, nodes (without images), our
events and those of pods on our networks, each node's diagnostics, \`doctor -o json\`, versions, Multus'
network-status of every pod on our networks, and the agents' pod logs (their last --log-lines lines).
Secrets are never read; tokens, passwords and keys in what is read are replaced with [REDACTED].

Bounded: the whole dump stops at --timeout and the files at --max-size; a step that fails or is cut is
recorded in sysdump.json inside the archive and the rest is still written. Prints the path and size.
Exit 0 written (even with recorded errors), 2 bad --output, 3 cluster unreachable.`;
  static override examples = ['<%= config.bin %> sysdump', '<%= config.bin %> sysdump -o /tmp/multinic.tar.gz --timeout 2m'];
  static override flags = {
    output: Flags.string({ char: 'o', description: 'Archive to write (.tar.gz or .tgz; must not exist). Default: multinic-sysdump-<time>.tar.gz here.' }),
    timeout: Flags.string({ description: 'Budget for the whole dump.', default: '60s' }),
    'max-size': Flags.string({ description: 'Budget for the files before compression.', default: '100Mi' }),
    'log-lines': Flags.integer({ description: 'Last lines of each agent log.', default: 5000, min: 0 }),
    'probe-timeout': Flags.string({ description: 'How long the agents get to answer the doctor probe.', default: '5s' }),
  };

  async run(): Promise<SysdumpResult> {
    const { existsSync, statSync } = await import('node:fs');
    const { dirname, resolve } = await import('node:path');
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const path = resolve(this.flags.output ?? `multinic-sysdump-${stamp}.tar.gz`);
    if (!/\.(tar\.gz|tgz)$/.test(path)) throw new UserError(`--output ${path}: the archive must end in .tar.gz or .tgz`, { hint: 'e.g. -o multinic-sysdump.tar.gz' });
    const dir = dirname(path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`--output ${path}: directory ${dir} does not exist`, { hint: 'create it first, or write elsewhere' });
    if (existsSync(path)) throw new UserError(`--output ${path} already exists`, { hint: 'remove it or choose another name; sysdump never overwrites' });
    const timeoutMs = parseDuration(this.flags.timeout);
    const maxBytes = parseSize(this.flags['max-size']);
    const probeTimeoutMs = parseDuration(this.flags['probe-timeout']);
    const kube = await this.kube();
    // Unreachable or unauthorised is exit 3 before anything is written.
    await kube.version();
    const { gatherSysdump } = await import('../cluster/sysdump.js');
    const { tarBytes } = await import('../lib/sysdump/tar.js');
    const { manifest, entries } = await gatherSysdump(kube, { cliVersion: this.config.version, timeoutMs, maxBytes, logTailLines: this.flags['log-lines'], logLimitBytes: Math.min(maxBytes, 16 * 2 ** 20), probeTimeoutMs });
    const { gzipSync } = await import('node:zlib');
    const gz = gzipSync(tarBytes(entries, Math.floor(Date.now() / 1000)));
    const { writeFile, rename, rm } = await import('node:fs/promises');
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, gz, { mode: 0o600, flag: 'wx' });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new UserError(`failed to write ${path}: ${(e as Error).message}`, { hint: 'choose a writable place with -o', exitCode: ExitCode.Usage });
    }
    const result: SysdumpResult = { apiVersion: 'multinic.fms.io/v1', kind: 'SysdumpResult', path, bytes: gz.length, files: entries.length, errors: manifest.errors, skipped: manifest.skipped };
    this.out(`wrote ${path} (${gz.length} bytes, ${entries.length} files${manifest.errors.length ? `, ${manifest.errors.length} steps failed: see sysdump.json inside` : ''}${manifest.skipped.length ? `, ${manifest.skipped.length} files left out by --max-size` : ''})`);
    for (const e of manifest.errors) this.note(`warning: ${e.step}: ${e.error}`);
    return result;
  }
}
