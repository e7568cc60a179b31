// Release requests on the API (src/lib/ipam/release.ts): `kubectl multinic ipam release` writes
// RELEASE_REQUEST_ANNOTATION on this node's HostInterface; the agent sees it through its
// HostInterface informer, releases through its own IPAM (journal first, the IPPool mirror follows)
// and answers in status.release with the request's nonce. One request at a time, each answered once
// (an answer already on the object, e.g. from before a restart, is not acted on again).
import type { HostInterface } from '../../lib/crds/types.gen.js';
import { RELEASE_REQUEST_ANNOTATION, decideRelease, parseReleaseRequest, type ReleaseAnswer, type ReleaseOutcome } from '../../lib/ipam/release.js';
import type { Allocation, Ipam } from '../../lib/ipam/types.js';
import { R } from '../../lib/k8s/resources.js';
import type { KubeApi } from '../../kube/api.js';
import type { EventRecorder } from './events.js';
import type { Informer } from './informer.js';
import type { K } from './kinds.js';

export interface ReleaseHandlerOptions {
  api: KubeApi;
  nodeName: string;
  hostInterfaces: Informer<K<HostInterface>>;
  ipam: Pick<Ipam, 'list' | 'release'>;
  /** Why the holder is alive per the pod cache (KubeAgent.liveReason); undefined: it is gone. */
  liveReason: (a: Allocation) => string | undefined;
  onReleased?: (released: Allocation[]) => void;
  events?: EventRecorder;
  log?: (event: Record<string, unknown>) => void;
}

const answeredNonce = (hi: K<HostInterface> | undefined): string | undefined => (hi?.status as { release?: { nonce?: string } } | undefined)?.release?.nonce;

export class ReleaseHandler {
  private seen: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private unsub: (() => void) | undefined;

  constructor(private readonly o: ReleaseHandlerOptions) {}

  start(): this {
    this.unsub = this.o.hostInterfaces.onChange((type, hi) => {
      if (type !== 'DELETED' && hi.metadata.name === this.o.nodeName) this.check(hi);
    });
    this.check(this.o.hostInterfaces.get(this.o.nodeName));
    return this;
  }

  /** Resolves once every request seen so far has been answered (tests). */
  idle(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  stop(): void {
    this.unsub?.();
  }

  private check(hi: K<HostInterface> | undefined): void {
    const text = hi?.metadata.annotations?.[RELEASE_REQUEST_ANNOTATION];
    if (!text || text === this.seen) return;
    this.seen = text;
    const parsed = parseReleaseRequest(text);
    const nonce = 'request' in parsed ? parsed.request.nonce : parsed.nonce;
    if (nonce !== undefined && nonce === answeredNonce(hi)) return;
    this.chain = this.chain.then(() => this.handle(parsed)).catch((e: Error) => this.o.log?.({ level: 'warn', msg: 'release request failed', error: e.message }));
  }

  private async handle(parsed: ReturnType<typeof parseReleaseRequest>): Promise<void> {
    const at = new Date().toISOString();
    if (!('request' in parsed)) {
      this.o.log?.({ level: 'warn', msg: 'ignoring release request', error: parsed.error });
      if (parsed.nonce) await this.answer({ nonce: parsed.nonce, at, results: [], error: parsed.error });
      return;
    }
    const { request } = parsed;
    const results: ReleaseOutcome[] = [];
    const released: Allocation[] = [];
    for (const item of request.items) {
      const d = decideRelease(item, this.o.ipam.list(), this.o.liveReason, request.force);
      if (d.release) {
        const a = d.release;
        try {
          const out = await this.o.ipam.release({ podUID: a.podUID, containerID: a.containerID, ifPrefix: a.interface, network: a.network });
          released.push(...out);
          this.o.log?.({ level: 'info', msg: 'released address on request', pool: a.pool, address: a.address, pod: `${a.namespace}/${a.podName}`, force: request.force, nonce: request.nonce });
          this.o.events?.record({ apiVersion: 'multinic.fms.io/v1', kind: 'IPPool', name: a.pool }, 'AddressReleased', `released ${a.address} of ${a.namespace}/${a.podName} (${a.interface}) on request (kubectl multinic ipam release${request.force ? ' --force' : ''})`, 'Normal');
        } catch (e) {
          results.push({ ...d.outcome, outcome: 'refused', reason: `failed to release ${a.address}: ${(e as Error).message}` });
          continue;
        }
      }
      results.push(d.outcome);
    }
    if (released.length) this.o.onReleased?.(released);
    await this.answer({ nonce: request.nonce, at, results });
  }

  /** Replaces status.release as a whole (merge patch with the absent keys nulled). */
  private async answer(a: ReleaseAnswer): Promise<void> {
    await this.o.api.patch(R.HostInterface, this.o.nodeName, { status: { release: { error: null, ...a } } }, { subresource: 'status' });
  }
}
