// Standalone agent entry, bin/multinic-agent (no oclif: the DaemonSet starts it directly, and tests
// bundle it to run inside a network namespace). `multinic-agent discover [--sysfs-root DIR]` prints the discovered NICs as
// JSON; `multinic-agent run ...flags` runs the agent (flags as `kubectl multinic agent`).
import { discoverNics } from './discovery.js';
import { AGENT_USAGE, parseAgentArgs, runAgentUntilSignal } from './cli.js';
import { UserError } from '../lib/errors.js';

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === 'discover') {
    const i = rest.indexOf('--sysfs-root');
    const nics = await discoverNics(i >= 0 ? { sysfsRoot: rest[i + 1] } : {});
    process.stdout.write(`${JSON.stringify(nics)}\n`);
  } else if (cmd === 'run') {
    await runAgentUntilSignal(parseAgentArgs(rest));
  } else if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`multinic-agent discover [--sysfs-root DIR]   print this host's secondary NICs as JSON\nmultinic-agent run FLAGS                     run the node agent; FLAGS:\n${AGENT_USAGE}\n`);
  } else {
    throw new UserError(`unknown command ${cmd ?? '(none)'}`, { hint: `multinic-agent discover | multinic-agent run FLAGS (multinic-agent --help)\n${AGENT_USAGE}` });
  }
} catch (e) {
  const err = e as UserError;
  process.stderr.write(`error: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
  process.exitCode = err instanceof UserError ? err.exitCode : 4;
}
