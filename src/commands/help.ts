import { Args, loadHelpClass } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { UserError } from '../lib/errors.js';
import { suggest } from '../lib/suggest.js';

/** `kubectl multinic help [COMMAND...]`: the same help as `COMMAND --help`. */
export default class HelpCommand extends BaseCommand<typeof HelpCommand> {
  static override summary = 'Show help for a command (the same as COMMAND --help).';
  static override strict = false;
  static override args = { command: Args.string({ description: 'Command, e.g. "status" or "lab up".', required: false }) };
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help lab up'];

  async run(): Promise<void> {
    const words = this.argv.filter((a) => !a.startsWith('-'));
    const id = words.join(':');
    if (id && !this.config.findCommand(id) && !this.config.findTopic(id)) {
      const known = this.config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', ' '));
      const close = suggest(words.join(' '), known);
      throw new UserError(`unknown command "${words.join(' ')}" for "kubectl multinic"`, {
        hint: close.length > 0 ? `did you mean ${close.map((c) => `"${c}"`).join(' or ')}?` : "run 'kubectl multinic --help' for the commands",
      });
    }
    const Help = await loadHelpClass(this.config);
    await new Help(this.config).showHelp(words);
  }
}
