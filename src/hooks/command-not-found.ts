// oclif's command_not_found hook: a mistyped command exits 2 (usage error) with kubectl-style
// suggestions and kubectl's spelling of ids (`lab up`, never oclif's `lab:up`).
import type { Hook } from '@oclif/core';
import { ExitCode } from '../lib/errors.js';
import { suggest } from '../lib/suggest.js';

const hook: Hook.CommandNotFound = async function (opts) {
  const typed = opts.id.replaceAll(':', ' ');
  const known = [...new Set([...opts.config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', ' ')), 'help'])];
  const close = suggest(typed, known);
  const lines = [`error: unknown command "${typed}" for "kubectl multinic"`];
  if (close.length > 0) lines.push('', 'Did you mean this?', ...close.map((c) => `\t${c}`));
  lines.push('', "Run 'kubectl multinic --help' for usage.");
  process.stderr.write(`${lines.join('\n')}\n`);

  this.exit(ExitCode.Usage);
};

export default hook;
