// One way to write an object we own the fields of (install's rendered objects, apply's networks and
// DeviceClasses), so both commands answer "unchanged" by the same rule. The rule, decided by
// planApply (src/lib/install/apply.ts):
// - absent: created, stamped with the applied-hash annotation (a hash of what we send);
// - unchanged when the live object carries the same applied hash AND every field we send is there
//   with the same value (a field we no longer send changes the hash; a field someone else changed
//   fails the comparison); fields others add (labels, annotations, finalizers, status) do not count;
// - otherwise replaced with the live resourceVersion, keeping what others own, and retried on a
//   conflict (someone wrote in between);
// - a Namespace we did not create is kept as it is.
import { isConflict, type KubeApi } from '../kube/api.js';
import { planApply, type ApplyAction } from '../lib/install/apply.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { refFor, type ResourceRef } from '../lib/k8s/resources.js';

/**
 * Creates, replaces or leaves `desired` by the rule above; errors are the API's, unwrapped. The
 * resource is `o.ref`, else the one its apiVersion and kind map to.
 */
export async function applyObject(api: KubeApi, desired: KubeObject, o: { dryRun: boolean; ref?: ResourceRef }): Promise<{ action: ApplyAction; object: KubeObject }> {
  const ref = o.ref ?? refFor(desired.apiVersion, desired.kind);
  if (!ref) throw new Error(`no resource mapping for ${desired.apiVersion} ${desired.kind}`);
  const name = desired.metadata?.name ?? '';
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = await api.get(ref, name, desired.metadata?.namespace);
      const step = planApply(desired, existing);
      if (step.action === 'create') return { action: 'create', object: await api.create(ref, step.object, { dryRun: o.dryRun }) };
      if (step.action === 'update') return { action: 'update', object: await api.replace(ref, step.object, { dryRun: o.dryRun }) };
      return { action: step.action, object: existing ?? desired };
    } catch (e) {
      if (isConflict(e) && attempt < 5) continue;
      throw e;
    }
  }
}
