// `agent --dra [--kubelet-dir DIR]`: needs --kube; the dir is checked before it reaches a socket path.
import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../../../src/agent/cli.js';

const base = ['--node', 'h1', '--data-dir', '/var/lib/multinic'];

describe('agent --dra flags', () => {
  it('turns DRA on with the default or a given kubelet dir', () => {
    expect(parseAgentArgs([...base, '--kube', '--dra'], {}).dra).toEqual({});
    expect(parseAgentArgs([...base, '--kube', '--dra', '--kubelet-dir', '/tmp/r1-kubelet'], {}).dra).toEqual({ kubeletDir: '/tmp/r1-kubelet' });
    expect(parseAgentArgs([...base, '--kube', '--dra', '--dra-sysfs-root', '/tmp/r1-sysfs'], {}).dra).toEqual({ sysfsRoot: '/tmp/r1-sysfs' });
    expect(parseAgentArgs([...base, '--kube'], {}).dra).toBeUndefined();
  });

  it('refuses --dra without --kube, a relative or ".." kubelet dir, and --kubelet-dir without --dra', () => {
    expect(() => parseAgentArgs([...base, '--state-file', '/s.yaml', '--dra'], {})).toThrow('--dra needs --kube');
    expect(() => parseAgentArgs([...base, '--kube', '--dra', '--kubelet-dir', 'kubelet'], {})).toThrow('--kubelet-dir must be an absolute directory without ".."');
    expect(() => parseAgentArgs([...base, '--kube', '--dra', '--kubelet-dir', '/var/../etc'], {})).toThrow('--kubelet-dir must be an absolute directory');
    expect(() => parseAgentArgs([...base, '--kube', '--kubelet-dir', '/var/lib/kubelet'], {})).toThrow('--kubelet-dir is only used with --dra');
    expect(() => parseAgentArgs([...base, '--kube', '--dra-sysfs-root', '/sys'], {})).toThrow('--dra-sysfs-root is only used with --dra');
    expect(() => parseAgentArgs([...base, '--kube', '--dra', '--dra-sysfs-root', 'sys'], {})).toThrow('--dra-sysfs-root must be an absolute directory without ".."');
  });
});
