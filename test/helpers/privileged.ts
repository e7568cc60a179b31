// Whether this machine can run the kernel tests (root, iproute2, network namespaces, veth). Privileged
// suites use `describe.skipIf(!privileged.ok)` and print `privileged.reason` so a skip is never silent.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function probe(): { ok: boolean; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (network namespaces, veth)' };
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return { ok: false, reason: "needs iproute2's `ip`" };
  }
  const name = `mnprobe${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', name], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    return { ok: false, reason: 'cannot create network namespaces here' };
  }
  return { ok: true, reason: '' };
}

export const privileged = probe();
export const cniPluginsDir = '/usr/lib/cni';
export const hasCniPlugins = existsSync(`${cniPluginsDir}/macvlan`);
export const hasIperf3 = (() => {
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Whether this kernel has ipvlan: creates an ipvlan link on a veth in a throwaway netns (the host's
 * kernel here has none and no module for it; the UML guest's has). False when not privileged.
 */
export const hasIpvlan = privileged.ok && (() => {
  const ns = `mnh9ipv${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    execFileSync('ip', ['-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1'], { stdio: 'ignore' });
    execFileSync('ip', ['-n', ns, 'link', 'add', 'link', 'p0', 'name', 'iv0', 'type', 'ipvlan', 'mode', 'l3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // never created
    }
  }
})();

/** Set by scripts/uml-run.sh in its guest: this process runs in the User-Mode Linux kernel. */
export const inUmlGuest = process.env['MULTINIC_UML_GUEST'] === '1';
/** The skip reason of tests that need ipvlan, where the kernel lacks it. */
export const noIpvlanReason = hasIpvlan ? '' : inUmlGuest ? 'the UML guest kernel has no ipvlan (module not loaded?)' : 'host kernel has no ipvlan; runs in the UML stage (make test-uml)';
