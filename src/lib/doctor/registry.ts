// The doctor's checks, in the order they run and are documented (docs/conventions.md §9: one literal array).
// `doctor` runs the cluster, node, network and ipam groups (or the pod group for `doctor pod`);
// `ipam check` runs the ipam group alone; docs/troubleshooting.md is generated from this list
// (scripts/gen-troubleshooting.mjs), so the documentation cannot drift from the code.
import { agentDaemonSet, agentDiagnostics, agentVersion, crdsInstalled, multusInstalled } from './checks/cluster.js';
import { nicHealth } from './checks/health.js';
import { ipamDuplicate, ipamLeaked, ipamMirror, ipamUnallocated } from './checks/ipam.js';
import { networkHostFit, networkNads, networkOverlap, networkPoolUse, networkStatus } from './checks/network.js';
import { nodeBinaries, nodeClaims, nodeJournal, nodeLinks, nodeRepairs, nodeRoutes, nodeSysctls, podNetns } from './checks/node.js';
import { podAnnotation, podAttachments, podEvents, podNetwork } from './checks/pod.js';
import type { Check } from './types.js';

export const CHECKS: readonly Check[] = [
  crdsInstalled,
  agentDaemonSet,
  agentVersion,
  multusInstalled,
  agentDiagnostics,
  nodeRoutes,
  nodeRepairs,
  nodeSysctls,
  nodeLinks,
  nodeBinaries,
  nodeJournal,
  nodeClaims,
  nicHealth,
  podNetns,
  networkNads,
  networkStatus,
  networkHostFit,
  networkPoolUse,
  networkOverlap,
  ipamLeaked,
  ipamDuplicate,
  ipamUnallocated,
  ipamMirror,
  podAnnotation,
  podNetwork,
  podEvents,
  podAttachments,
];
