// The VersionReport (`kubectl multinic version -o json`): this client, the API server, and the agent
// each node's HostInterface says it runs, with the skew an admin should know about. Pure.
import type { HostInterface } from './crds/types.gen.js';

export interface AgentVersion {
  node: string;
  /** What the agent last wrote in its HostInterface status; empty when it has not yet. */
  version: string;
  lastSeen?: string;
}

export interface VersionReport {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'Version';
  client: { version: string; node: string; platform: string };
  /** Absent with --client, or when the cluster could not be reached (then `serverError`). */
  server?: { gitVersion: string };
  serverError?: string;
  /** Per node, sorted by node name. */
  agents?: AgentVersion[];
  /** Human-readable skew warnings (empty when every agent runs the client's version). */
  warnings: string[];
}

/** Agent versions from HostInterfaces, sorted by node. */
export function agentVersions(his: readonly HostInterface[]): AgentVersion[] {
  return his
    .map((h) => {
      const status = (h.status ?? {}) as { agentVersion?: string; lastSeen?: string };
      return { node: h.spec?.hostName || (h.metadata.name ?? ''), version: status.agentVersion ?? '', ...(status.lastSeen ? { lastSeen: status.lastSeen } : {}) };
    })
    .sort((a, b) => a.node.localeCompare(b.node));
}

/** Skew warnings: agents on another version than the client, agents that differ among themselves, silent agents. */
export function versionWarnings(client: string, agents: readonly AgentVersion[]): string[] {
  const out: string[] = [];
  const byVersion = new Map<string, string[]>();
  for (const a of agents) {
    if (!a.version) continue;
    byVersion.set(a.version, [...(byVersion.get(a.version) ?? []), a.node]);
  }
  const list = (nodes: string[]): string => (nodes.length > 5 ? `${nodes.slice(0, 5).join(', ')} and ${nodes.length - 5} more` : nodes.join(', '));
  for (const [v, nodes] of [...byVersion].sort(([x], [y]) => x.localeCompare(y))) {
    if (v !== client) out.push(`agent ${v} on ${list(nodes)} differs from this client (${client}): upgrade with \`kubectl multinic install\`, or use the matching client`);
  }
  if (byVersion.size > 1) out.push(`agents run ${byVersion.size} different versions (${[...byVersion.keys()].sort().join(', ')}): a rollout may be in progress (\`kubectl -n kube-system rollout status ds/multinic-agent\`)`);
  const silent = agents.filter((a) => !a.version).map((a) => a.node);
  if (silent.length > 0) out.push(`no agent version reported for ${list(silent)} (agent not running, or not yet started)`);
  return out;
}
