// `kubectl multinic agent` hands its typed flags to agentOptions; the standalone agent parses argv
// into the same flags first. Both paths give the same options, and the same refusals.
import { describe, expect, it } from 'vitest';
import { agentOptions, parseAgentArgs, type AgentFlags } from '../../src/agent/cli.js';

const env = { K8S_NODENAME: 'n1', POD_NAMESPACE: 'ns1' };
const argvOf = (f: AgentFlags): string[] =>
  Object.entries(f).flatMap(([k, v]) => (v === true ? [`--${k}`] : v === false || v === undefined ? [] : [`--${k}`, String(v)]));

describe('agent flags: typed (the kubectl command) and argv (the standalone agent) agree', () => {
  it.each<[string, AgentFlags]>([
    ['a state file', { 'data-dir': '/var/lib/mn', 'state-file': '/etc/mn/state.yaml', resync: '5', 'metrics-addr': '' }],
    ['--kube with DRA and every knob', { 'data-dir': '/d', kube: true, dra: true, 'kubelet-dir': '/var/lib/kubelet', 'gc-grace': '30', namespace: 'x', 'max-connections': '64', 'enable-forwarding': true, checkpoint: '/c', 'topology-xml': '/t', 'metrics-addr': '127.0.0.1:9999' }],
  ])('%s', (_n, flags) => {
    expect(agentOptions(flags, env)).toEqual(parseAgentArgs(argvOf(flags), env));
  });
  it.each<[string, AgentFlags, RegExp]>([
    ['no state source', { 'data-dir': '/d' }, /a state source is required/],
    ['a bad --resync', { 'data-dir': '/d', kube: true, resync: '0' }, /--resync must be a number of seconds >= 1, got "0"/],
    ['--dra without --kube', { 'data-dir': '/d', 'state-file': '/s', dra: true }, /--dra needs --kube/],
  ])('refuses %s the same way', (_n, flags, msg) => {
    expect(() => agentOptions(flags, env)).toThrow(msg);
    expect(() => parseAgentArgs(argvOf(flags), env)).toThrow(msg);
  });
});
