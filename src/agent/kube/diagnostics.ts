// Diagnostics on the API: this node's HostInterface carries them (status.diagnostics and
// status.conditions, written through the status subresource), and a probe request arrives as the
// PROBE_REQUEST_ANNOTATION on the same object (written by `doctor`), seen through the agent's
// HostInterface informer, so an answer needs no extra watch and no port on the node.
import type { HostInterface } from '../../lib/crds/types.gen.js';
import type { NodeCondition } from '../../lib/diagnostics/conditions.js';
import { PROBE_REQUEST_ANNOTATION, type NodeDiagnostics } from '../../lib/diagnostics/types.js';
import { R } from '../../lib/k8s/resources.js';
import { isNotFound, type KubeApi } from '../../kube/api.js';
import type { DiagnosticsSink } from '../diagnostics.js';
import type { Informer } from './informer.js';
import type { K } from './kinds.js';

export interface KubeDiagnosticsSinkOptions {
  api: KubeApi;
  nodeName: string;
  hostInterfaces: Informer<K<HostInterface>>;
  log?: (event: Record<string, unknown>) => void;
}

/** A nonce is opaque but bounded: it is echoed into our status. */
const NONCE = /^[A-Za-z0-9._:-]{1,128}$/;

export class KubeDiagnosticsSink implements DiagnosticsSink {
  /** The newest result not yet on the API (no HostInterface yet, or it was deleted): written when it appears. */
  private pending: { d: NodeDiagnostics; c: NodeCondition[] } | undefined;
  private last: { d: NodeDiagnostics; c: NodeCondition[] } | undefined;
  private answered: string | undefined;
  private readonly unsubs: Array<() => void> = [];

  constructor(private readonly o: KubeDiagnosticsSinkOptions) {
    this.unsubs.push(
      o.hostInterfaces.onChange((type, hi) => {
        if (hi.metadata.name !== o.nodeName) return;
        if (type === 'DELETED') {
          this.pending ??= this.last;
          return;
        }
        const p = this.pending;
        if (p) void this.publish(p.d, p.c).catch((e: Error) => this.o.log?.({ level: 'warn', msg: 'diagnostics publish failed; will retry', error: e.message }));
      }),
    );
  }

  previousConditions(): NodeCondition[] | undefined {
    return this.o.hostInterfaces.get(this.o.nodeName)?.status?.conditions as NodeCondition[] | undefined;
  }

  onRequest(cb: (nonce: string) => void): () => void {
    const check = (hi: K<HostInterface> | undefined) => {
      const nonce = hi?.metadata.annotations?.[PROBE_REQUEST_ANNOTATION];
      if (!nonce || nonce === this.answered) return;
      if (!NONCE.test(nonce)) {
        this.answered = nonce;
        this.o.log?.({ level: 'warn', msg: `ignoring probe request: annotation ${PROBE_REQUEST_ANNOTATION} must be 1-128 characters of letters, digits, '.', '_', ':' or '-'`, value: nonce.slice(0, 64) });
        return;
      }
      // A request made while this agent was down and already answered by a previous run stays answered.
      if (hi?.status?.diagnostics?.nonce === nonce) {
        this.answered = nonce;
        return;
      }
      this.answered = nonce;
      cb(nonce);
    };
    const unsub = this.o.hostInterfaces.onChange((type, hi) => {
      if (type !== 'DELETED' && hi.metadata.name === this.o.nodeName) check(hi);
    });
    check(this.o.hostInterfaces.get(this.o.nodeName));
    this.unsubs.push(unsub);
    return unsub;
  }

  /**
   * Replaces status.diagnostics and status.conditions as a whole (a JSON patch: a merge patch would
   * keep keys the new block no longer has, such as an old nonce), leaving the rest of the status.
   */
  async publish(d: NodeDiagnostics, c: NodeCondition[]): Promise<void> {
    this.last = { d, c };
    const cached = this.o.hostInterfaces.get(this.o.nodeName);
    if (!cached) {
      this.pending = { d, c };
      return;
    }
    try {
      if (cached.status) {
        await this.o.api.patch(R.HostInterface, this.o.nodeName, [
          { op: 'add', path: '/status/diagnostics', value: d },
          { op: 'add', path: '/status/conditions', value: c },
        ], { subresource: 'status', type: 'json' });
      } else {
        await this.o.api.patch(R.HostInterface, this.o.nodeName, { status: { diagnostics: d, conditions: c } }, { subresource: 'status' });
      }
      if (this.pending?.d === d) this.pending = undefined;
    } catch (e) {
      if (isNotFound(e)) {
        this.pending = { d, c };
        return;
      }
      // The cache may think status is there when it is not yet (a JSON patch cannot add below a missing parent).
      if (cached.status) {
        await this.o.api.patch(R.HostInterface, this.o.nodeName, { status: { diagnostics: d, conditions: c } }, { subresource: 'status' });
        if (this.pending?.d === d) this.pending = undefined;
        return;
      }
      throw e;
    }
  }

  stop(): void {
    for (const u of this.unsubs) u();
    this.unsubs.length = 0;
  }
}
