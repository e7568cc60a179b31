import { Args } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { completionScript, SHELLS, type Shell } from '../lib/completion-scripts.js';

export default class CompletionCommand extends BaseCommand<typeof CompletionCommand> {
  static override summary = 'Print a shell completion script for kubectl-multinic (bash, zsh or fish).';
  static override description =
    'Through kubectl (1.26 or later) completion needs no script: kubectl runs kubectl_complete-multinic, installed next to kubectl-multinic. ' +
    'This script completes the kubectl-multinic command itself. Commands, flags, flag values and names from the cluster (networks, nodes, pods, contexts, namespaces; 2 s timeout) are completed.';
  static override args = { shell: Args.string({ description: 'The shell.', options: [...SHELLS], required: true }) };
  static override examples = ['source <(<%= config.bin %> completion bash)', '<%= config.bin %> completion fish | source'];

  async run(): Promise<string> {
    const script = completionScript(this.args.shell as Shell);
    this.out(script);
    return script;
  }
}
