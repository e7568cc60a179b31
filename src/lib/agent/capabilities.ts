// Which Linux capabilities a process holds, read from the `CapEff:` line of /proc/PID/status (a
// 64-bit hex mask, bit N = capability N; numbers from include/uapi/linux/capability.h:
// https://github.com/torvalds/linux/blob/master/include/uapi/linux/capability.h). The agent reads
// its own at start to decide whether it may enter pod network namespaces (docs/install.md#capabilities).

/** The capability numbers the agent cares about. */
export const CAPABILITY_BITS = { NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21 } as const;
export type CapabilityName = keyof typeof CAPABILITY_BITS;

/** The effective set of a /proc/PID/status text; undefined when it has no readable CapEff line. */
export function effectiveCapabilities(status: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(status);
  return m ? BigInt(`0x${m[1]!}`) : undefined;
}

export function holds(mask: bigint, cap: CapabilityName): boolean {
  return ((mask >> BigInt(CAPABILITY_BITS[cap])) & 1n) === 1n;
}

/**
 * Why the agent does not read pod network namespaces, or undefined when it may: entering one
 * (setns(2) with CLONE_NEWNET, what `nsenter --net=` does) needs CAP_SYS_ADMIN, which the
 * DaemonSet grants only with `install --pod-netns-access`.
 */
export function podNetnsDenied(status: string | undefined): string | undefined {
  const mask = status === undefined ? undefined : effectiveCapabilities(status);
  if (mask === undefined) return undefined; // not Linux-like: try, and report what the kernel says
  if (holds(mask, 'SYS_ADMIN')) return undefined;
  return 'not read: the agent holds no CAP_SYS_ADMIN, which entering a pod network namespace needs (install --pod-netns-access grants it; docs/install.md#capabilities)';
}
