import { Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base.js';

export default class LabServeCommand extends BaseCommand<typeof LabServeCommand> {
  static override hidden = true;
  static override summary = 'Run the lab control plane in the foreground (started by lab up).';
  static override flags = { dir: Flags.string({ required: true, description: 'The lab directory written by lab up.' }) };

  async run(): Promise<void> {
    const { serveLab } = await import('../../lab/supervisor.js');
    await serveLab(this.flags.dir);
  }
}
