import { describe, expect, it } from 'vitest';
import { cniPathEntryProblem, ifNameProblem, pluginNameProblem, socketPathProblem } from '../../../src/lib/cni/names.js';

describe('pluginNameProblem: only bare file names may be executed', () => {
  it.each(['macvlan', 'host-local', 'sriov', 'multi-nic-ipam', 'x.sh', 'a_b', '...'])('accepts %s', (n) => {
    expect(pluginNameProblem(n)).toBeUndefined();
  });
  it.each(['', '.', '..', '../x', '/usr/bin/id', 'bin/macvlan', 'mac vlan', 'x;id', 'x\0y', 'é'])('refuses %j', (n) => {
    expect(pluginNameProblem(n)).toBeDefined();
  });
});

describe('cniPathEntryProblem', () => {
  it.each([['/opt/cni/bin', undefined], ['bin', 'is not an absolute directory'], ['.', 'is not an absolute directory'], ['./bin', 'is not an absolute directory']])('%s', (d, want) => {
    expect(cniPathEntryProblem(d)).toBe(want);
  });
});

describe('ifNameProblem: the kernel dev_valid_name() rules', () => {
  it.each(['net1', 'net1-0', 'eth0.100', 'abcdefghijklmno', 'ñéñéñéñ', 'a-b_c@d'])('accepts %j', (n) => {
    expect(ifNameProblem(n)).toBeUndefined();
  });
  it.each([
    ['', 'is empty'],
    ['abcdefghijklmnop', 'is 16 bytes long (Linux allows 15)'],
    ['ñéñéñéñé', 'is 16 bytes long (Linux allows 15)'],
    ['.', 'is not a valid interface name ("." and ".." are reserved)'],
    ['..', 'is not a valid interface name ("." and ".." are reserved)'],
    ['a/b', 'is not a valid interface name (no "/", ":", whitespace or control characters)'],
    ['eth0:1', 'is not a valid interface name (no "/", ":", whitespace or control characters)'],
    ['a b', 'is not a valid interface name (no "/", ":", whitespace or control characters)'],
    ['a\nb', 'is not a valid interface name (no "/", ":", whitespace or control characters)'],
    ['a\u0001b', 'is not a valid interface name (no "/", ":", whitespace or control characters)'],
  ])('refuses %j: %s', (n, want) => {
    expect(ifNameProblem(n)).toBe(want);
  });
});

describe('socketPathProblem', () => {
  it.each(['/run/multinic/agent.sock', '/tmp/lab/h1/agent.sock'])('accepts %s', (p) => {
    expect(socketPathProblem(p)).toBeUndefined();
  });
  it.each(['agent.sock', '/run/multinic/../../tmp/x.sock', '/run/./agent.sock', '/run//agent.sock', '/run/multinic/', `/${'a'.repeat(107)}`, '/run/a\nb'])('refuses %j', (p) => {
    expect(socketPathProblem(p)).toBeDefined();
  });
});
