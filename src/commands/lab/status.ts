import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { outputFlags } from '../../cli/output.js';
import { DEFAULT_PREFIX, defaultLabDir, labStatus, type LabStatusResult } from '../../lab/lab.js';
import { ExitCode } from '../../lib/errors.js';

export default class LabStatusCommand extends BaseCommand<typeof LabStatusCommand> {
  static override summary = 'Show whether a local lab is up, its hosts, its kubeconfig and the agent rollout (exit 1 when it is not fully up).';
  static override examples = ['<%= config.bin %> lab status', '<%= config.bin %> lab status -o json'];
  static override flags = {
    prefix: Flags.string({ description: 'Name prefix of the lab.', default: DEFAULT_PREFIX }),
    dir: Flags.string({ description: 'The lab directory (default: $TMPDIR/kubectl-multinic-lab/<prefix>).' }),
    ...outputFlags({ human: 'text' }),
  };

  async run(): Promise<LabStatusResult> {
    const dir = this.flags.dir ?? defaultLabDir(this.flags.prefix);
    const r = await labStatus({ prefix: this.flags.prefix, dir });
    await this.emit({ data: r, human: () => labStatusText(r) });
    if (!r.up) this.exit(ExitCode.Problems);
    return r;
  }
}

function labStatusText(r: LabStatusResult): string {
  if (r.controlPlane === 'absent' && r.hosts.length === 0) return `no lab "${r.prefix}" (start one: kubectl multinic lab up)`;
  const out = [`lab "${r.prefix}": ${r.up ? 'up' : 'DEGRADED'} · control plane ${r.controlPlane}${r.server ? ` at ${r.server}` : ''}`];
  if (r.kubeconfig) out.push(`kubeconfig: ${r.kubeconfig}`);
  for (const h of r.hosts) out.push(`  ${h.name.padEnd(8)} ${h.present ? 'present' : 'MISSING'}  ${h.nics.join(', ')}`);
  if (r.agents) out.push(`agents (${r.agents.daemonSet}): ${r.agents.message}`);
  if (r.strayNamespaces.length) out.push(`stray namespaces: ${r.strayNamespaces.join(', ')} (lab down removes them)`);
  return out.join('\n');
}
