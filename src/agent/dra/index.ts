// The agent's DRA side (`agent --kube --dra`, docs/dra.md): the ResourceSlice publisher runs in the
// KubeAgent's node loop; this starts the kubelet plugin over the durable prepared-claims record.
import { join } from 'node:path';
import type { KubeAgent } from '../kube/index.js';
import { startDraPlugin, type DraPlugin } from './plugin.js';
import { PreparedClaims } from './prepared.js';
import { ClaimStatusWriter } from './status.js';

export interface AgentDra {
  plugin: DraPlugin;
  prepared: PreparedClaims;
  status: ClaimStatusWriter;
  stop(): Promise<void>;
}

export async function startAgentDra(o: { kube: KubeAgent; nodeName: string; dataDir: string; kubeletDir?: string; log?: (e: Record<string, unknown>) => void }): Promise<AgentDra> {
  const prepared = await PreparedClaims.open(join(o.dataDir, 'dra-prepared.json'));
  const slices = o.kube.slices;
  const plugin = await startDraPlugin({
    api: o.kube.api,
    nodeName: o.nodeName,
    ...(o.kubeletDir ? { kubeletDir: o.kubeletDir } : {}),
    prepared,
    nicOf: (device) => slices?.nicOf(device),
    ...(o.log ? { log: o.log } : {}),
  });
  const status = new ClaimStatusWriter({ api: o.kube.api, claimsOf: (uid) => prepared.forPod(uid), ...(o.log ? { log: o.log } : {}) });
  return { plugin, prepared, status, stop: () => plugin.stop() };
}
