// The CLI side of the release request (src/lib/ipam/release.ts): one request per node, written as
// RELEASE_REQUEST_ANNOTATION on its HostInterface, then the agent's answer read back from
// status.release by its nonce, up to a deadline.
import { randomBytes } from 'node:crypto';
import type { KubeApi } from '../kube/api.js';
import type { HostInterface } from '../lib/crds/types.gen.js';
import { MAX_RELEASE_ITEMS, RELEASE_REQUEST_ANNOTATION, type ReleaseAnswer, type ReleaseItem, type ReleaseRequest } from '../lib/ipam/release.js';
import { R } from '../lib/k8s/resources.js';

export interface NodeReleaseOutcome {
  node: string;
  nonce: string;
  /** The agent's answer; undefined when it did not answer in time. */
  answer?: ReleaseAnswer;
  /** Why the request could not be written. */
  error?: string;
}

/**
 * Writes one request per node (items grouped by node; more than MAX_RELEASE_ITEMS go in several
 * requests, one after the other, since each replaces the annotation) and waits up to timeoutMs in
 * all for the answers. Nodes run in parallel.
 */
export async function requestReleases(kube: KubeApi, byNode: ReadonlyMap<string, ReleaseItem[]>, o: { force: boolean; timeoutMs: number }): Promise<NodeReleaseOutcome[]> {
  const deadline = Date.now() + o.timeoutMs;
  const perNode = await Promise.all(
    [...byNode].map(async ([node, items]) => {
      const done: NodeReleaseOutcome[] = [];
      for (let i = 0; i < items.length; i += MAX_RELEASE_ITEMS) {
        const nonce = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
        const req: ReleaseRequest = { nonce, force: o.force, items: items.slice(i, i + MAX_RELEASE_ITEMS) };
        const entry: NodeReleaseOutcome = { node, nonce };
        done.push(entry);
        try {
          await kube.patch(R.HostInterface, node, { metadata: { annotations: { [RELEASE_REQUEST_ANNOTATION]: JSON.stringify(req) } } });
        } catch (e) {
          entry.error = (e as Error).message;
          break;
        }
        for (;;) {
          const hi = await kube.get<HostInterface>(R.HostInterface, node);
          const ans = (hi?.status as { release?: ReleaseAnswer } | undefined)?.release;
          if (ans?.nonce === nonce) {
            entry.answer = ans;
            break;
          }
          if (Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, 150));
        }
        if (!entry.answer) break;
      }
      return done;
    }),
  );
  return perNode.flat();
}
