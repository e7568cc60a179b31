import { BaseCommand, outputFlag } from '../cli/base.js';
import { renderData } from '../cli/output.js';

/** Machine shape of `kubectl multinic version -o json`. */
export interface VersionResult {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'Version';
  client: { version: string; node: string; platform: string };
}

export default class VersionCommand extends BaseCommand<typeof VersionCommand> {
  static override summary = 'Print the client version.';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version -o json'];
  static override flags = { output: outputFlag };

  async run(): Promise<VersionResult> {
    const result: VersionResult = {
      apiVersion: 'multinic.fms.io/v1',
      kind: 'Version',
      client: { version: this.config.version, node: process.version, platform: `${process.platform}/${process.arch}` },
    };
    if (this.flags.output === 'json' || this.flags.output === 'yaml') this.out(await renderData(result, this.flags.output));
    else this.out(`kubectl-multinic ${result.client.version} (node ${result.client.node}, ${result.client.platform})`);
    return result;
  }
}
