// `kubectl multinic agent` and the standalone agent entry (src/agent/bin.ts, the DaemonSet's) take the
// same flags: one parser's flag missing from the other would make a documented agent setting
// unreachable through the plugin (as --health-interval, --probe-interval, --self-check-interval and
// --cni-bin-dir once were). Both then go through the same agentOptions checks.
import { describe, expect, it } from 'vitest';
import AgentCommand from '../../src/commands/agent.js';
import { AGENT_ARG_OPTIONS, agentOptions, parseAgentArgs } from '../../src/agent/cli.js';

const oclifFlags = (): Record<string, { type: string; char?: string }> => ({ ...(AgentCommand.baseFlags ?? {}), ...AgentCommand.flags }) as never;

describe('kubectl multinic agent flags', () => {
  it('declares every flag of the standalone entry, with the same kind (boolean or value) and short name', () => {
    const flags = oclifFlags();
    const missing = Object.keys(AGENT_ARG_OPTIONS).filter((k) => !(k in flags));
    expect(missing).toEqual([]);
    for (const [k, o] of Object.entries(AGENT_ARG_OPTIONS)) {
      expect([k, flags[k]!.type]).toEqual([k, o.type === 'boolean' ? 'boolean' : 'option']);
      expect([k, flags[k]!.char]).toEqual([k, (o as { short?: string }).short]);
    }
  });

  it('a flag given either way reaches the same options, and the same bad value the same error', () => {
    const argv = ['--node', 'h1', '--data-dir', '/var/lib/multinic', '--state-file', '/etc/multinic/state.yaml', '--health-interval', '30', '--probe-interval', '5', '--self-check-interval', '2', '--cni-bin-dir', '/opt/cni/bin:/usr/lib/cni'];
    const viaArgv = parseAgentArgs(argv, {});
    const viaFlags = agentOptions({ node: 'h1', 'data-dir': '/var/lib/multinic', 'state-file': '/etc/multinic/state.yaml', 'health-interval': '30', 'probe-interval': '5', 'self-check-interval': '2', 'cni-bin-dir': '/opt/cni/bin:/usr/lib/cni' }, {});
    expect(viaFlags).toEqual(viaArgv);
    expect(viaArgv).toMatchObject({ healthIntervalMs: 30_000, probeIntervalMs: 5_000, selfCheckIntervalMs: 2_000, cniBinDirs: ['/opt/cni/bin', '/usr/lib/cni'] });
    expect(() => agentOptions({ node: 'h1', 'data-dir': '/d', 'state-file': '/s', 'health-interval': '2' }, {})).toThrow(/--health-interval must be 0 \(off\) or a number of seconds >= 5, got "2"/);
  });
});
