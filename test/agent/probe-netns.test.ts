// readPodNetns judges "gone" from the agent's own mount and PID namespaces (src/agent/lending.ts
// netnsState): a missing path in /run/netns is gone, a /proc/<pid>/ns/net path (a PID namespace the
// agent may not share) or a directory it does not mount is unknown, with the reason, never gone.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPodNetns } from '../../src/agent/probe.js';

describe('readPodNetns without the pod netns in sight', () => {
  it.each(['/proc/2147483646/ns/net', '/var/run/docker/netns/fx0a1b2c'])('%s is unknown, with the reason', async (path) => {
    expect(await readPodNetns(path, false)).toEqual({ error: `cannot tell whether the pod netns ${path} exists: the agent sees pod namespaces only in /run/netns (a /proc/<pid> path may be in a PID namespace it does not share)` });
  });

  it.skipIf(!existsSync('/run/netns'))('a missing path in /run/netns is gone', async () => {
    expect(await readPodNetns('/run/netns/fx-no-such-netns', false)).toBe('gone');
  });
});
