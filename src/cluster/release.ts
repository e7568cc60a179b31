// The CLI side of the release request (src/lib/ipam/release.ts): one request per node, written as
// RELEASE_REQUEST_ANNOTATION on its HostInterface, then the agent's answer read back from
// status.release by its nonce, up to a deadline.
import { randomBytes } from 'node:crypto';
import { waitFor } from '../cli/wait.js';
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

/** One node's requests: its batches, the outcomes so far, the one being answered. */
interface NodeQueue {
  node: string;
  batches: ReleaseItem[][];
  out: NodeReleaseOutcome[];
  pending?: NodeReleaseOutcome;
  /** No more requests for this node: all answered, or a write failed. */
  done: boolean;
}

/**
 * Writes one request per node (items grouped by node; more than MAX_RELEASE_ITEMS go in several
 * requests, one after the other, since each replaces the annotation) and waits up to timeoutMs in
 * all for the answers through the shared waitFor, with one progress line (`note`). Nodes run in
 * parallel. A node whose write fails, or whose agent does not answer in time, gets no later
 * requests: its outcomes end with the error or the unanswered request.
 */
export async function requestReleases(
  kube: KubeApi,
  byNode: ReadonlyMap<string, ReleaseItem[]>,
  o: { force: boolean; timeoutMs: number; note: (text: string) => void; tty?: boolean },
): Promise<NodeReleaseOutcome[]> {
  const queues: NodeQueue[] = [...byNode].map(([node, items]) => {
    const batches: ReleaseItem[][] = [];
    for (let i = 0; i < items.length; i += MAX_RELEASE_ITEMS) batches.push(items.slice(i, i + MAX_RELEASE_ITEMS));
    return { node, batches, out: [], done: batches.length === 0 };
  });
  const send = async (q: NodeQueue): Promise<void> => {
    const items = q.batches.shift();
    if (!items) {
      q.done = true;
      return;
    }
    const nonce = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
    const req: ReleaseRequest = { nonce, force: o.force, items };
    const entry: NodeReleaseOutcome = { node: q.node, nonce };
    q.out.push(entry);
    try {
      await kube.patch(R.HostInterface, q.node, { metadata: { annotations: { [RELEASE_REQUEST_ANNOTATION]: JSON.stringify(req) } } });
      q.pending = entry;
    } catch (e) {
      entry.error = (e as Error).message;
      q.done = true;
    }
  };
  // One poll: send each node's next request, or read back the answer to the one outstanding.
  const step = async (q: NodeQueue): Promise<void> => {
    if (q.done) return;
    if (!q.pending) return send(q);
    const hi = await kube.get<HostInterface>(R.HostInterface, q.node);
    const ans = (hi?.status as { release?: ReleaseAnswer } | undefined)?.release;
    if (ans?.nonce !== q.pending.nonce) return;
    q.pending.answer = ans;
    q.pending = undefined;
    await send(q);
  };
  const total = queues.reduce((n, q) => n + q.batches.length, 0);
  await waitFor({
    poll: async () => {
      await Promise.all(queues.map(step));
      return queues;
    },
    line: (qs) => {
      const answered = qs.reduce((n, q) => n + q.out.filter((e) => e.answer).length, 0);
      const waiting = qs.filter((q) => q.pending).map((q) => q.node);
      return `release: ${answered}/${total} request(s) answered${waiting.length ? `, waiting for the agent on ${waiting.join(', ')}` : ''}`;
    },
    settled: (qs) => qs.every((q) => q.done),
    timeoutMs: o.timeoutMs,
    intervalMs: 150,
    note: o.note,
    tty: o.tty,
  });
  return queues.flatMap((q) => q.out);
}
