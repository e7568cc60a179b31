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
