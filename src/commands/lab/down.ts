import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';
import { outputFlags } from '../../cli/output.js';
import { DEFAULT_PREFIX, defaultLabDir, labDown, type LabDownResult } from '../../lab/lab.js';

export default class LabDownCommand extends BaseCommand<typeof LabDownCommand> {
  static override summary = 'Remove a local lab: every namespace, link, process and file it made (also after a crash).';
  static override examples = ['<%= config.bin %> lab down', '<%= config.bin %> lab down --prefix mylab'];
  static override flags = {
    prefix: Flags.string({ description: 'Name prefix of the lab to remove.', default: DEFAULT_PREFIX }),
    dir: Flags.string({ description: 'The lab directory (default: $TMPDIR/kubectl-multinic-lab/<prefix>).' }),
    ...outputFlags({ human: 'text' }),
  };

  async run(): Promise<LabDownResult> {
    const dir = this.flags.dir ?? defaultLabDir(this.flags.prefix);
    const r = await labDown({ prefix: this.flags.prefix, dir });
    await this.emit({ data: r, human: () => `lab "${r.prefix}" removed: ${r.namespaces.length} namespaces, ${r.links.length} links, ${r.processes} processes, ${r.dir}` });
    return r;
  }
}
