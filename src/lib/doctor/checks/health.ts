// The continuous per-NIC health check's results (HostInterface status.diagnostics.health, the
// NICAllocatable and NICReachable conditions; src/lib/diagnostics/health.ts). Pure.
import type { Check, Finding } from '../types.js';
import { age, agentLog, diagnosticsByNode, finding } from '../util.js';

export const nicHealth: Check = {
  id: 'nic-health',
  title: 'every NIC attaches and reaches its peers (continuous health)',
  group: 'node',
  severity: 'fail',
  explain:
    'Each agent\'s newest health round (--health-interval): a test attachment created and deleted on every NIC through the network\'s real delegate in a scratch namespace (NICAllocatable), and every other host\'s address on the NIC network answering a TCP probe over that NIC (NICReachable). A failing NIC is named with the step that failed or the peers that did not answer; a round older than three intervals is a warning.',
  run(s) {
    const out: Finding[] = [];
    for (const [node, d] of diagnosticsByNode(s)) {
      const h = d.health;
      if (!h) continue;
      const stale = Date.parse(s.now) - Date.parse(h.observedAt);
      if (h.intervalSeconds > 0 && Number.isFinite(stale) && stale > 3 * h.intervalSeconds * 1000) {
        out.push(finding(this, { node }, `the newest health round on ${node} is ${age(h.observedAt, s.now)} old (interval ${h.intervalSeconds}s)`, 'the agent\'s health rounds stopped or take longer than three intervals (a delegate that hangs, a time budget too small for the peers)', `${agentLog(node)}; look for "NIC health" and "health" lines`, 'warn'));
      }
      for (const n of h.nics) {
        for (const a of n.allocability) {
          if (a.outcome !== 'failed') continue;
          const down = /is not up in the host/.test(a.message ?? '');
          out.push(
            finding(
              this,
              { node, nic: n.nic, network: a.network },
              `a test attachment on ${node}/${n.nic} for network ${a.network} failed: ${a.message ?? 'failed'}`,
              down ? `NIC ${n.nic} is down or gone: pods asking for it get no interface on it` : 'pods scheduled here get no interface on this NIC either: the delegate, the NIC or the kernel refuses what a pod ADD does',
              down ? `ip link set ${n.nic} up on ${node} (check cabling; kubectl multinic doctor --node ${node} shows the link)` : `run the failing step by hand on ${node} (the message names the delegate); check the CNI bin dir and ${agentLog(node)}`,
            ),
          );
        }
        if (n.unreachableCount > 0) {
          const listed = n.unreachable.join(', ');
          const more = n.unreachableCount > n.unreachable.length ? ` (+${n.unreachableCount - n.unreachable.length} more)` : '';
          const all = n.unreachableCount >= n.peers;
          out.push(
            finding(
              this,
              { node, nic: n.nic },
              `${n.unreachableCount} of ${n.peers} peer(s) do not answer ${node} over ${n.nic}: ${listed}${more}`,
              all ? `nothing answers over ${n.nic}: the NIC, its cable or switch port, or its address on ${node}` : 'those peers\' NICs are down, or a switch, VLAN or firewall between them drops the traffic (the probe is TCP to the peer agent\'s metrics port; a refusal counts as an answer)',
              all ? `ip link show ${n.nic} and ip addr show ${n.nic} on ${node}; check the switch port` : `kubectl multinic doctor --node ${n.unreachable[0]?.split(' ')[0] ?? 'PEER'} for the peer's side; allow TCP to the metrics port (default 9417) on the NIC network`,
            ),
          );
        }
      }
    }
    return out;
  },
};
