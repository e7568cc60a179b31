// The generated CRD interfaces have no index signature, so they are not KubeObjects as KubeApi's
// generics require; `K<T>` is the object as the API returns it: the typed resource plus any field.
import type { KubeObject } from '../../lib/k8s/meta.js';

export type K<T> = T & KubeObject;
