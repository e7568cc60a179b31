// Standalone agent entry (no oclif: a DaemonSet starts it directly, and tests bundle it to run
// inside a network namespace). `bin.js discover [--sysfs-root DIR]` prints the discovered NICs as
// JSON; `bin.js run ...flags` runs the agent (flags as `kubectl multinic agent`).
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
  } else {
    throw new UserError(`unknown command ${cmd ?? '(none)'}`, { hint: `bin.js discover | bin.js run ...\n${AGENT_USAGE}` });
  }
} catch (e) {
  const err = e as UserError;
  process.stderr.write(`error: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
  process.exitCode = err instanceof UserError ? err.exitCode : 4;
}
