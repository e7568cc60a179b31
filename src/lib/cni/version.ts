// CNI spec versions this plugin speaks, and what each allows (CNI SPEC "Version").

/** Versions accepted in a network configuration, oldest first. 1.1.0 adds STATUS and GC. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The version used when a VERSION request or an error has no config to take one from. */
export const LATEST_VERSION: CniVersion = '1.1.0';

/** Compares dotted versions numerically (`0.10.0` > `0.4.0`); non-numeric parts compare as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** CHECK and prevResult on DEL exist from 0.4.0. */
export const supportsCheck = (v: string): boolean => compareVersions(v, '0.4.0') >= 0;
/** STATUS and GC exist from 1.1.0. */
export const supportsStatusAndGc = (v: string): boolean => compareVersions(v, '1.1.0') >= 0;
/** Results before 1.0.0 carry `version: "4"|"6"` on each IP. */
export const ipsCarryVersion = (v: string): boolean => compareVersions(v, '1.0.0') < 0;

/**
 * The version to run a delegate in: the config's own when the delegate supports it, else the
 * highest version both this plugin and the delegate support that is older than the config's (its
 * result converts up losslessly: 1.0.0 only drops `ips[].version`); undefined when there is none.
 */
export function negotiateVersion(asked: string, delegateSupports: readonly string[]): string | undefined {
  if (delegateSupports.includes(asked)) return asked;
  const common = SUPPORTED_VERSIONS.filter((v) => delegateSupports.includes(v) && compareVersions(v, asked) < 0);
  return common.sort(compareVersions).at(-1);
}
