// Per-node checks over the kernel truth each agent publishes (HostInterface status.diagnostics,
// src/lib/diagnostics/types.ts). A node without diagnostics is skipped here; agent-diagnostics
// names it. Pure.
import type { RouteEntry } from '../../diagnostics/types.js';
import type { Check, Finding } from '../types.js';
import { heldNics } from '../../dra/held.js';
import { age, agentLog, diagnosticsByNode, finding, names } from '../util.js';

const routeText = (r: RouteEntry, table: string): string => `${r.dst}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''} table ${table}`;

export const nodeRoutes: Check = {
  id: 'node-routes',
  title: 'host routes and policy rules as planned',
  group: 'node',
  severity: 'fail',
  explain:
    'Per network on each node, the kernel\'s policy table holds every route the CIDR implies and the `from <subnet> lookup <table>` rule exists (missing: pods cannot reach other hosts\' pods); routes nobody wants are foreign; the macvlan L3 shim is up and holds its gateway.',
  run(s) {
    const out: Finding[] = [];
    for (const [node, d] of diagnosticsByNode(s)) {
      for (const n of d.networks) {
        const where = { node, network: n.network };
        if (!n.rulePresent) {
          out.push(finding(this, where, `policy rule for network ${n.network} (lookup ${n.table}) is missing on ${node}`, 'someone deleted it (ip rule del) or a network manager rewrote the rules', `the agent restores it on its next resync; to see who removes it: ip monitor rule on ${node}`));
        }
        for (const r of n.missingRoutes) {
          const nic = d.nics.find((x) => x.name === r.dev);
          const down = nic && (!nic.adminUp || !nic.carrier);
          out.push(
            finding(
              this,
              { ...where, ...(r.dev ? { nic: r.dev } : {}) },
              `route ${routeText(r, n.table)} is missing on ${node}`,
              down ? `NIC ${r.dev} is ${nic.adminUp ? 'without carrier' : 'down'}: the kernel drops routes over it` : 'it was deleted and not (yet) restored; pods on this node cannot reach that block',
              down ? `bring ${r.dev} up on ${node} (ip link set ${r.dev} up; check cabling)` : `the agent restores it; if it does not: ${agentLog(node)}`,
            ),
          );
        }
        const unlisted = (n.missingRouteCount ?? n.missingRoutes.length) - n.missingRoutes.length;
        if (unlisted > 0) {
          out.push(finding(this, where, `${unlisted} more route(s) of network ${n.network} are missing on ${node} (diagnostics list the first ${n.missingRoutes.length})`, 'the routes above, at scale: most often the policy table itself is gone or a NIC is down', `the agent restores them; ip route show table ${n.table || n.network} on ${node}; ${agentLog(node)}`));
        }
        for (const r of n.foreignRoutes) {
          out.push(finding(this, { ...where, ...(r.dev ? { nic: r.dev } : {}) }, `route ${routeText(r, n.table)} on ${node} is not in the plan`, 'left from an old CIDR, or added by hand: traffic to it may go the wrong way', `ip route del ${r.dst} table ${n.table} on ${node} (if nobody needs it)`, 'warn'));
        }
        for (const sh of n.shims ?? []) {
          if (!sh.up || !sh.hasGateway) {
            out.push(finding(this, { ...where, nic: sh.nic }, `L3 shim ${sh.link} on ${node}/${sh.nic} is ${sh.up ? 'up' : 'down'}${sh.hasGateway ? '' : ` without its gateway ${sh.gateway}`}`, 'pods on this NIC have no gateway: they reach nothing off their block', `the agent recreates it on resync; ${agentLog(node)}`));
          }
        }
      }
    }
    return out;
  },
};

export const nodeRepairs: Check = {
  id: 'node-repairs',
  title: 'nothing on the node fights the agent',
  group: 'node',
  severity: 'warn',
  explain: 'The agent restores routes, rules and shims someone else removed and keeps a record; a repair means something on the node (a network manager, a script, an admin) undoes the agent\'s work.',
  run(s) {
    const out: Finding[] = [];
    for (const [node, d] of diagnosticsByNode(s)) {
      const latest = new Map<string, (typeof d.repairs)[number]>();
      for (const r of d.repairs) latest.set(`${r.network}|${r.kind}|${r.what}`, r);
      for (const r of latest.values()) {
        out.push(
          finding(
            this,
            { node, network: r.network },
            `the agent on ${node} restored ${r.kind} ${r.what} ${r.count} time${r.count === 1 ? '' : 's'}, last at ${r.at} (${age(r.at, s.now)} ago)`,
            'something on the node removes what the agent installs (NetworkManager, systemd-networkd, a cron job, an admin)',
            `find it: ip monitor ${r.kind === 'rule' ? 'rule' : 'route'} on ${node}; tell NetworkManager to leave the NICs alone (unmanaged-devices)`,
          ),
        );
      }
    }
    return out;
  },
};

export const nodeSysctls: Check = {
  id: 'node-sysctls',
  title: 'forwarding on where L3 needs it, rp_filter not strict',
  group: 'node',
  severity: 'fail',
  explain: 'L3 networks (vlanMode l3/l3s) route pod traffic through the host: net.ipv4.ip_forward (and IPv6 forwarding) must be 1. rp_filter=1 (strict) on a NIC drops replies that arrive on another NIC than the route back.',
  run(s) {
    const out: Finding[] = [];
    for (const [node, d] of diagnosticsByNode(s)) {
      const sc = d.sysctls;
      if (sc.forwardingNeeded && sc.ipv4Forward === 0) {
        out.push(finding(this, { node }, `net.ipv4.ip_forward=0 on ${node}, which carries L3 networks`, 'forwarding was turned off (sysctl.conf, a hardening profile): pod traffic is not routed between NICs and hosts', `sysctl -w net.ipv4.ip_forward=1 on ${node}, and persist it in /etc/sysctl.d/`));
      }
      const v6 = d.networks.length > 0 && sc.ipv6Forward === 0 && d.nics.some((n) => n.networks.length > 0 && n.addresses.some((a) => a.includes(':') && !a.toLowerCase().startsWith('fe80')));
      if (sc.forwardingNeeded && v6) {
        out.push(finding(this, { node }, `net.ipv6.conf.all.forwarding=0 on ${node}, which carries L3 networks over IPv6 NICs`, 'IPv6 forwarding is off', `sysctl -w net.ipv6.conf.all.forwarding=1 on ${node}`, 'warn'));
      }
      const strict = Object.entries(sc.rpFilter ?? {}).filter(([nic, v]) => v === 1 && d.nics.some((n) => n.name === nic && n.networks.length > 0));
      // The kernel uses max(all, <nic>): all=1 makes every NIC strict.
      if (sc.rpFilterAll === 1) {
        out.push(finding(this, { node }, `net.ipv4.conf.all.rp_filter=1 (strict) on ${node}`, 'strict reverse-path filtering drops multi-NIC traffic whose way back is another NIC', `sysctl -w net.ipv4.conf.all.rp_filter=2 on ${node} (loose)`, 'warn'));
      } else {
        for (const [nic] of strict) out.push(finding(this, { node, nic }, `net.ipv4.conf.${nic}.rp_filter=1 (strict) on ${node}`, 'strict reverse-path filtering drops multi-NIC traffic whose way back is another NIC', `sysctl -w net.ipv4.conf.${nic}.rp_filter=2 on ${node} (loose)`, 'warn'));
      }
    }
    return out;
  },
};

export const nodeLinks: Check = {
  id: 'node-links',
  title: 'NICs up with carrier; one MTU per NIC network',
  group: 'node',
  severity: 'fail',
  explain: 'Every NIC that carries a network is administratively up with carrier (else its routes cannot come back and pods get no traffic on it); every NIC on one NIC network has the same MTU across hosts.',
  run(s) {
    const out: Finding[] = [];
    const mtus = new Map<string, Map<number, string[]>>();
    for (const [node, d] of diagnosticsByNode(s)) {
      for (const n of d.nics) {
        if (n.lentTo) continue;
        if (n.networks.length > 0 && n.operState === 'notpresent') {
          out.push(finding(this, { node, nic: n.name }, `NIC ${n.name} on ${node} is not present in the kernel; the plan gives it blocks of ${names(n.networks)}`, 'the NIC was removed, renamed, or its driver did not load', `ip link show on ${node}; if the NIC is gone for good, the agent releases its blocks once it stops publishing it`));
          continue;
        }
        if (n.networks.length > 0 && (!n.adminUp || !n.carrier)) {
          const state = !n.adminUp ? 'down' : 'up without carrier';
          out.push(
            finding(
              this,
              { node, nic: n.name },
              `NIC ${n.name} on ${node} is ${state} (operstate ${n.operState}); it carries ${names(n.networks)}`,
              !n.adminUp ? 'it was set down (ip link set down, or a network manager)' : 'no link: cable, switch port or transceiver',
              !n.adminUp ? `ip link set ${n.name} up on ${node}` : `check the cable and switch port of ${node}/${n.name} (ethtool ${n.name})`,
            ),
          );
        }
        if (n.netAddress && n.networks.length > 0 && n.mtu > 0) {
          const m = mtus.get(n.netAddress) ?? new Map<number, string[]>();
          m.set(n.mtu, [...(m.get(n.mtu) ?? []), `${node}/${n.name}`]);
          mtus.set(n.netAddress, m);
        }
      }
    }
    for (const [net, m] of [...mtus].sort()) {
      if (m.size < 2) continue;
      const parts = [...m].sort((a, b) => a[0] - b[0]).map(([mtu, who]) => `${mtu} on ${names(who, 3)}`);
      out.push(finding(this, {}, `MTU differs on NIC network ${net}: ${parts.join('; ')}`, 'large frames are dropped between hosts with different MTUs (TCP stalls while ping works)', 'set one MTU on every NIC of the network (and the switch ports)', 'warn'));
    }
    return out;
  },
};

export const nodeBinaries: Check = {
  id: 'node-binaries',
  title: 'CNI executables present, executable, same version; kernel supports the link type',
  group: 'node',
  severity: 'fail',
  explain:
    'The multi-nic executable and each delegate a network needs (macvlan, ipvlan, sriov, host-device, single-NIC IPAMs) are in the host CNI bin dir and executable; multi-nic reports the agent\'s version; the kernel supports the link type (ipvlan, macvlan).',
  run(s) {
    const out: Finding[] = [];
    // The agent sees the host CNI bin dir where the DaemonSet mounts it; name the host's path.
    const ds = s.daemonSets[0] as { spec?: { template?: { spec?: { volumes?: Array<{ name: string; hostPath?: { path?: string } }> } } } } | undefined;
    const hostDir = ds?.spec?.template?.spec?.volumes?.find((v) => v.name === 'cni-bin')?.hostPath?.path;
    for (const [node, d] of diagnosticsByNode(s)) {
      for (const raw of d.binaries) {
        const b = hostDir && raw.path.startsWith('/host/cni-bin/') ? { ...raw, path: `${hostDir}/${raw.path.slice('/host/cni-bin/'.length)}` } : raw;
        const where = { node, ...(b.neededBy.length === 1 ? { network: b.neededBy[0] } : {}) };
        const needed = b.neededBy.length ? `, needed by ${names(b.neededBy)}` : '';
        if (!b.present) {
          const ours = b.name === 'multi-nic';
          out.push(
            finding(
              this,
              where,
              `${b.path} is missing on ${node}${needed}`,
              ours ? 'the agent\'s init container did not install it, or it was removed: Multus fails with "failed to find plugin multi-nic"' : `the ${b.name} CNI plugin is not installed on the host: pod ADD fails with "failed to find plugin ${b.name}"`,
              ours ? `restart the agent pod on ${node} (its init container reinstalls it), or kubectl multinic install` : `install the reference CNI plugins (containernetworking-plugins) into ${b.path.replace(/\/[^/]+$/, '')} on ${node}`,
            ),
          );
          continue;
        }
        const why = (b as { error?: string }).error;
        if (why) out.push(finding(this, where, `${b.path} on ${node} could not be checked: ${why}`, 'running it (CNI VERSION) failed or timed out', `run it by hand on ${node}: CNI_COMMAND=VERSION ${b.path} </dev/null`, 'warn'));
        if (!b.executable) out.push(finding(this, where, `${b.path} on ${node} is not executable${needed}`, 'its mode lost the x bit (copied without it, or a noexec mount)', `chmod 755 ${b.path} on ${node}`));
        if (b.name === 'multi-nic' && b.version && d.agentVersion && b.version !== d.agentVersion) {
          out.push(finding(this, where, `${b.path} on ${node} is version ${b.version}; the agent is ${d.agentVersion}`, 'an old plugin was left behind (the init container could not overwrite it)', `restart the agent pod on ${node} so its init container copies the current plugin`, 'warn'));
        }
        if (b.kernelSupport === false) {
          out.push(finding(this, where, `the kernel on ${node} does not support ${b.name} links${needed}`, `the ${b.name} module is not available (e.g. no ipvlan in this kernel build)`, b.name === 'ipvlan' ? `modprobe ipvlan on ${node}, or use plugin type macvlan with vlanMode l3` : `modprobe ${b.name} on ${node}`));
        }
      }
    }
    return out;
  },
};

export const nodeJournal: Check = {
  id: 'node-journal',
  title: 'IPAM journal healthy',
  group: 'node',
  severity: 'fail',
  explain: 'The agent\'s durable IPAM journal loaded cleanly: no damaged records (addresses held only there could be handed out twice) and no address held by two allocations.',
  run(s) {
    const out: Finding[] = [];
    for (const [node, d] of diagnosticsByNode(s)) {
      const j = d.journal;
      if (!j.ok || (j.damaged ?? 0) > 0) {
        out.push(
          finding(
            this,
            { node },
            `IPAM journal on ${node}: ${j.damaged ? `${j.damaged} damaged record${j.damaged === 1 ? '' : 's'} skipped` : 'not healthy'}${j.message ? ` (${j.message})` : ''}`,
            'a crash mid-write or a full disk damaged the journal',
            'kubectl multinic ipam check (finds addresses held twice); the agent re-adopts allocations from the IPPool resources when the journal is moved aside',
            j.ok ? 'warn' : 'fail',
          ),
        );
      }
      for (const dup of j.duplicates ?? []) {
        out.push(finding(this, { node }, `address ${dup.address} in pool ${dup.pool} is held by ${dup.holders.length} allocations in ${node}'s journal: ${names(dup.holders)}`, 'the journal was edited or damaged: two pods may use one address', 'delete the pods that hold it but should not, then kubectl multinic ipam check'));
      }
    }
    return out;
  },
};

export const podNetns: Check = {
  id: 'pod-netns',
  title: 'pods still have the interfaces, addresses and routes they were given',
  group: 'node',
  severity: 'fail',
  explain: 'For every allocation on a node, the agent looks into the pod\'s network namespace: the interface with that address and its routes are there (catches pod-internal route loss the host cannot see).',
  run(s) {
    const out: Finding[] = [];
    for (const [node, d] of diagnosticsByNode(s)) {
      for (const a of d.allocations) {
        if (a.state === 'present' || a.state === 'unknown') continue;
        const where = { node, network: a.network, pod: a.pod };
        const what = a.state === 'netns-gone' ? 'its network namespace is gone' : a.state === 'interface-missing' ? `interface ${a.podInterface} is missing` : a.state === 'address-missing' ? `${a.podInterface} lost ${a.address}` : `${a.podInterface} lost a route${a.detail ? ` (${a.detail})` : ''}`;
        out.push(
          finding(
            this,
            where,
            `pod ${a.pod} on ${node}: ${what} (allocation ${a.address} in ${a.pool})`,
            a.state === 'netns-gone' ? 'the pod sandbox died without a CNI DEL: its address leaks until the agent\'s GC' : 'something inside the pod (its own process, an init script) changed its network',
            a.state === 'netns-gone' ? 'kubectl multinic ipam check; the agent GC releases it after --gc-grace' : `restart the pod (kubectl -n ${a.pod.split('/')[0]} delete pod ${a.pod.split('/')[1]}) to get its interfaces back`,
            a.state === 'netns-gone' ? 'warn' : 'fail',
          ),
        );
      }
    }
    return out;
  },
};

export const nodeClaims: Check = {
  id: 'node-claims',
  title: 'NICs held by DRA claims are there and up',
  group: 'node',
  severity: 'fail',
  explain: 'Every NIC a ResourceClaim holds for a pod (allocated by the scheduler from the agents\' ResourceSlices, docs/dra.md) is still in its node\'s slice and up, by the agent\'s kernel view (else by the slice); a gone or down NIC leaves the pod without that interface or its traffic.',
  run(s) {
    const out: Finding[] = [];
    for (const why of s.draUnreadable ?? []) {
      out.push(finding(this, {}, `cannot list ${why}`, 'your user may not read DRA objects, so NICs held by ResourceClaims were not checked', `kubectl auth can-i list ${why.split(':')[0]}.resource.k8s.io; run doctor as a user who may (read-only access is enough)`, 'warn'));
    }
    const diags = new Map(diagnosticsByNode(s));
    for (const h of heldNics(s.draClaims ?? [], s.draSlices ?? [])) {
      const who = `held by claim ${h.claim} for ${names(h.pods.map((p) => `pod ${p}`))}`;
      if (!h.interfaceName) {
        out.push(finding(this, { node: h.node, nic: h.device, pod: h.pods[0] }, `NIC ${h.device} on ${h.node}, ${who}, is no longer in the node's ResourceSlice`, 'the NIC was removed or renamed after the claim was allocated (or the agent on the node stopped publishing it)', `ip link show on ${h.node}; delete the pod so its claim is allocated again: kubectl delete pod -n ${h.pods[0]!.split('/')[0]} ${h.pods[0]!.split('/')[1]}`));
        continue;
      }
      const nic = diags.get(h.node)?.nics.find((n) => n.name === h.interfaceName);
      const down = nic ? nic.operState === 'notpresent' ? 'not present in the kernel' : !nic.adminUp ? 'down' : !nic.carrier ? 'up without carrier' : undefined : h.state === 'down' ? 'down (ResourceSlice state)' : undefined;
      if (!down) continue;
      out.push(finding(this, { node: h.node, nic: h.interfaceName, pod: h.pods[0] }, `NIC ${h.interfaceName} on ${h.node}, ${who}, is ${down}`, nic && !nic.adminUp ? 'it was set down (ip link set down, or a network manager)' : 'no link or no device: cable, switch port, transceiver or driver', nic && !nic.adminUp ? `ip link set ${h.interfaceName} up on ${h.node}` : `check ${h.node}/${h.interfaceName} (ethtool ${h.interfaceName}); or delete the pod so its claim is allocated again`));
    }
    return out;
  },
};
