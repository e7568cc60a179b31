// Kubernetes Events the agent records on failures (core/v1 Event, the shape `kubectl describe` and
// `kubectl get events` read). Pure.
import type { KubeObject } from '../k8s/meta.js';

export const EVENT_SOURCE = 'multinic-agent';

export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** Reasons we emit (CamelCase, as Kubernetes reasons are). */
export type EventReason = 'CIDRClaimFailed' | 'PoolExhausted' | 'LeakReleased' | 'AddressReleased' | 'NADFailed' | 'HostRemoved' | 'CIDRMigrated' | 'LeaderElected' | 'RoutesFailed' | 'PublishFailed' | 'SubnetOverlap' | 'APIOutageEnded' | 'NICHealthDegraded' | 'NICHealthRestored';

/**
 * A Warning/Normal Event about `subject`, in `namespace` (cluster-scoped subjects: the agent's).
 * The name is unique per subject, reason and time, as kubelet's are.
 */
export function renderEvent(opts: {
  subject: EventSubject;
  reason: EventReason;
  message: string;
  type?: 'Normal' | 'Warning';
  host: string;
  namespace: string;
  now: Date;
  seq?: number;
}): KubeObject {
  const ns = opts.subject.namespace ?? opts.namespace;
  const stamp = opts.now.getTime().toString(16) + (opts.seq !== undefined ? `.${opts.seq.toString(16)}` : '');
  const t = opts.now.toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${opts.subject.name}.${stamp}`.slice(0, 253), namespace: ns },
    involvedObject: {
      apiVersion: opts.subject.apiVersion,
      kind: opts.subject.kind,
      name: opts.subject.name,
      ...(opts.subject.namespace ? { namespace: opts.subject.namespace } : {}),
      ...(opts.subject.uid ? { uid: opts.subject.uid } : {}),
    },
    reason: opts.reason,
    message: opts.message.slice(0, 1024),
    type: opts.type ?? 'Warning',
    source: { component: EVENT_SOURCE, host: opts.host },
    reportingComponent: EVENT_SOURCE,
    reportingInstance: opts.host,
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
  };
}
