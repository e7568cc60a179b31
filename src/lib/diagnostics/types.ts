// Kernel truth from one node, as its agent publishes it in `HostInterface.status.diagnostics`: what
// the agent read back from the kernel (routes, rules, sysctls, links, binaries, journal, pods), never
// what it last believed. `doctor`, `status`, `ipam check` and the TUI read only this block (through the
// API), so none of them needs the agent's socket, `kubectl exec` or a port on the node.
//
// Contract: the agent rewrites the whole block on every probe (periodic, after any repair, and on an
// on-demand request); `observedAt` is when the kernel was read. Lists are sorted so the object diffs
// cleanly. Everything is optional-tolerant on the reader side: an older agent omits fields.

import type { HealthReport } from './health.js';

/** Annotation on a HostInterface asking its agent to probe now; the value is an opaque nonce. */
export const PROBE_REQUEST_ANNOTATION = 'multinic.fms.io/probe-request';

/** Schema version of the diagnostics block; bumped on an incompatible change. */
export const DIAGNOSTICS_VERSION = 1;

export interface NodeDiagnostics {
  version: number;
  /** RFC 3339 time the kernel was read. */
  observedAt: string;
  /**
   * The nonce of the last on-demand probe request answered (absent until the first). Blocks written
   * after the answer keep it: they were read after the request too, so they answer it as well.
   */
  nonce?: string;
  agentVersion: string;
  /** Per network this host carries (multi-nic-ipam networks with a block on this host). */
  networks: NetworkRouteDiagnostics[];
  sysctls: SysctlDiagnostics;
  /** Per NIC the agent discovered (and per NIC lent to a pod, with `lentTo`). */
  nics: NicDiagnostics[];
  /** The CNI executables this node needs, in the host CNI bin dir. */
  binaries: BinaryDiagnostics[];
  journal: JournalDiagnostics;
  /**
   * Per allocation held on this node: does the pod's netns have it? Problems first: every
   * allocation not present, then present ones, at most MAX_LISTED_ALLOCATIONS (src/lib/diagnostics/node.ts).
   */
  allocations: AllocationDiagnostics[];
  /** How many allocations the node holds, when more than listed (a node with many pods and NICs). */
  allocationCount?: number;
  /** With allocationCount: how many allocations are in each state, listed or not. */
  allocationStates?: Partial<Record<AllocationDiagnostics['state'], number>>;
  /** Route/rule repairs the agent made (newest last, at most 50 kept). */
  repairs: RepairRecord[];
  /** Probes that could not run, with why (e.g. `ip` missing); never silently absent. */
  errors?: string[];
  /** The newest continuous health round (--health-interval; src/lib/diagnostics/health.ts), when it is on. */
  health?: HealthReport;
}

export interface RouteEntry {
  /** Destination CIDR, e.g. 192.168.1.0/24. */
  dst: string;
  via?: string;
  dev?: string;
}

export interface NetworkRouteDiagnostics {
  network: string;
  /** Policy route table (name or number as `ip` shows it). */
  table: string;
  vlanMode: string;
  /** Routes the agent wants in the table and rules it wants, from the CIDR. */
  desiredRoutes: number;
  /** Desired routes the kernel does not have (the first MAX_LISTED_ROUTES; missingRouteCount says how many). */
  missingRoutes: RouteEntry[];
  /** How many desired routes are missing, when more than listed. */
  missingRouteCount?: number;
  /** Routes in the table that the agent does not want (left from an old CIDR, or added by hand); the first MAX_LISTED_ROUTES. */
  foreignRoutes: RouteEntry[];
  /** How many routes are foreign, when more than listed. */
  foreignRouteCount?: number;
  /** `from <subnet> lookup <table>` present. */
  rulePresent: boolean;
  /** The macvlan L3 shim (when vlanMode l3 on macvlan): link name, up, holding its gateway. */
  shims?: Array<{ nic: string; link: string; up: boolean; gateway: string; hasGateway: boolean }>;
}

export interface SysctlDiagnostics {
  /** net.ipv4.ip_forward (1/0); absent when unreadable. */
  ipv4Forward?: number;
  /** net.ipv6.conf.all.forwarding. */
  ipv6Forward?: number;
  /** net.ipv4.conf.all.rp_filter. */
  rpFilterAll?: number;
  /** Per NIC net.ipv4.conf.<nic>.rp_filter. */
  rpFilter?: Record<string, number>;
  /** Whether some network on this host needs forwarding (L3 modes). */
  forwardingNeeded: boolean;
}

export interface NicDiagnostics {
  name: string;
  netAddress?: string;
  /** `ip link` operstate lower-cased: up, down, unknown, lowerlayerdown, ... */
  operState: string;
  /** Administratively up (IFF_UP). */
  adminUp: boolean;
  carrier: boolean;
  mtu: number;
  /** CIDR-form addresses on the link. */
  addresses: string[];
  /** Networks (MultiNicNetwork names) whose blocks ride on this NIC. */
  networks: string[];
  /** Set when the NIC is lent whole to a pod (host-device / SR-IOV VF): `namespace/name`. */
  lentTo?: string;
}

export interface BinaryDiagnostics {
  /** File name, e.g. multi-nic, macvlan, ipvlan, sriov, host-device, or a single-NIC IPAM's type. */
  name: string;
  /** Full path looked at. */
  path: string;
  present: boolean;
  executable: boolean;
  /** For multi-nic: the version it reports (CNI VERSION answer's plugin version, if it tells). */
  version?: string;
  /** Networks that need it. */
  neededBy: string[];
  /** Kernel support for the link type it creates (macvlan/ipvlan), when known. */
  kernelSupport?: boolean;
  /** For multi-nic: the CNI spec versions its VERSION answer lists. */
  supportedVersions?: string[];
  /** Why it could not be checked (e.g. VERSION failed or timed out). */
  error?: string;
}

export interface JournalDiagnostics {
  ok: boolean;
  /** Allocations recorded. */
  allocations: number;
  /** Bytes on disk. */
  sizeBytes?: number;
  /** Records skipped as damaged at the last load, and why. */
  damaged?: number;
  message?: string;
  /** The same address held by two allocations (network/pool + address), should never happen. */
  duplicates?: Array<{ pool: string; address: string; holders: string[] }>;
}

export interface AllocationDiagnostics {
  network: string;
  pool: string;
  address: string;
  /** namespace/name of the pod. */
  pod: string;
  podUID?: string;
  containerID: string;
  /** Interface inside the pod, e.g. net1-0. */
  podInterface: string;
  /** present: interface with that address and its routes; missing-*: what is gone; unknown: netns unreadable. */
  state: 'present' | 'netns-gone' | 'interface-missing' | 'address-missing' | 'route-missing' | 'unknown';
  /** What is missing, human-readable (e.g. the route). */
  detail?: string;
}

export interface RepairRecord {
  /** RFC 3339. */
  at: string;
  network: string;
  kind: 'route' | 'rule' | 'shim';
  /** What was restored, e.g. `192.168.1.0/24 via 10.0.1.2 dev eth1 table multi-nic-sample`. */
  what: string;
  /** How many times this same thing was repaired since the agent started. */
  count: number;
}
