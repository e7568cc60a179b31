import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { outputFlags } from '../cli/output.js';
import type { HostInterface } from '../lib/crds/types.gen.js';
import { ClusterUnreachableError, ExitCode } from '../lib/errors.js';
import { R } from '../lib/k8s/resources.js';
import { agentVersions, versionWarnings, type VersionReport } from '../lib/version.js';

/** Machine shape of `kubectl multinic version -o json` (schemas/version.json). */
export type VersionResult = VersionReport;

export default class VersionCommand extends BaseCommand<typeof VersionCommand> {
  static override summary = 'Print the client version, the API server\'s, and the agent version on every node (warning on skew).';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --client', '<%= config.bin %> version -o json'];
  static override flags = {
    ...outputFlags(),
    client: Flags.boolean({ description: 'Only the client version (no cluster access).', default: false }),
  };

  async run(): Promise<VersionResult> {
    const result: VersionResult = {
      apiVersion: 'multinic.fms.io/v1',
      kind: 'Version',
      client: { version: this.config.version, node: process.version, platform: `${process.platform}/${process.arch}` },
      warnings: [],
    };
    let unreachable: Error | undefined;
    if (!this.flags.client) {
      try {
        const kube = await this.kube();
        const [server, his] = await Promise.all([kube.version(), kube.list<HostInterface>(R.HostInterface).catch(() => ({ items: [] as HostInterface[] }))]);
        result.server = { gitVersion: server.gitVersion ?? 'unknown' };
        result.agents = agentVersions(his.items);
        result.warnings = versionWarnings(result.client.version, result.agents);
      } catch (e) {
        if (!(e instanceof ClusterUnreachableError)) throw e;
        unreachable = e;
        result.serverError = e.message;
      }
    }
    await this.emit({ data: result, human: () => human(result) });
    for (const w of result.warnings) this.note(`warning: ${w}`);
    if (unreachable) {
      this.note(`error: ${unreachable.message}`);
      if ((unreachable as ClusterUnreachableError).hint) this.note(`hint: ${(unreachable as ClusterUnreachableError).hint}`);
      this.exit(ExitCode.Cluster);
    }
    return result;
  }
}

function human(r: VersionResult): string {
  const lines = [`Client Version: ${r.client.version} (node ${r.client.node}, ${r.client.platform})`];
  if (r.server) lines.push(`Server Version: ${r.server.gitVersion}`);
  if (r.agents) {
    if (r.agents.length === 0) lines.push('Agents: none (no HostInterface: is the agent installed? kubectl multinic install)');
    else {
      const counts = new Map<string, number>();
      for (const a of r.agents) counts.set(a.version || '-', (counts.get(a.version || '-') ?? 0) + 1);
      lines.push(`Agent Versions: ${[...counts].map(([v, n]) => `${v} (${n} node${n === 1 ? '' : 's'})`).join(', ')}`);
    }
  }
  return lines.join('\n');
}
