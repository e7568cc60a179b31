// resource.k8s.io/v1 objects, the fields this product reads and writes (shapes of
// k8s.io/api/resource/v1 types.go: https://github.com/kubernetes/api/blob/master/resource/v1/types.go).
import type { ObjectMeta } from '../k8s/meta.js';

/** Our DRA driver name: the `spec.driver` of our ResourceSlices and the driver of allocated NICs. */
export const DRIVER = 'multinic.fms.io';

/** Exactly one of the value fields is set (API validation). */
export interface DeviceAttribute {
  int?: number;
  bool?: boolean;
  string?: string;
  version?: string;
}

export interface Device {
  name: string;
  attributes?: Record<string, DeviceAttribute>;
  capacity?: Record<string, { value: string | number }>;
}

export interface ResourceSlice {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceSlice';
  metadata: ObjectMeta;
  spec: {
    driver: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    nodeName?: string;
    allNodes?: boolean;
    devices?: Device[];
  };
}

export interface CelSelector {
  cel: { expression: string };
}

export interface ExactDeviceRequest {
  deviceClassName: string;
  selectors?: CelSelector[];
  allocationMode?: 'ExactCount' | 'All';
  count?: number;
}

export interface DeviceRequest {
  name: string;
  exactly?: ExactDeviceRequest;
  firstAvailable?: Array<ExactDeviceRequest & { name: string }>;
}

export interface DeviceConstraint {
  requests?: string[];
  matchAttribute?: string;
  distinctAttribute?: string;
}

export interface ResourceClaimSpec {
  devices?: { requests?: DeviceRequest[]; constraints?: DeviceConstraint[] };
}

export interface DeviceRequestAllocationResult {
  request: string;
  driver: string;
  pool: string;
  device: string;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** KEP-4817: per-device status a driver writes into the claim. */
export interface AllocatedDeviceStatus {
  driver: string;
  pool: string;
  device: string;
  conditions?: Condition[];
  data?: unknown;
  networkData?: { interfaceName?: string; ips?: string[]; hardwareAddress?: string };
}

export interface ResourceClaimConsumerReference {
  apiGroup?: string;
  resource: string;
  name: string;
  uid: string;
}

export interface ResourceClaim {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceClaim';
  metadata: ObjectMeta;
  spec: ResourceClaimSpec;
  status?: {
    allocation?: { devices?: { results?: DeviceRequestAllocationResult[] }; nodeSelector?: unknown; allocationTimestamp?: string };
    reservedFor?: ResourceClaimConsumerReference[];
    devices?: AllocatedDeviceStatus[];
  };
}

export interface ResourceClaimTemplate {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'ResourceClaimTemplate';
  metadata: ObjectMeta;
  spec: { metadata?: ObjectMeta; spec: ResourceClaimSpec };
}

export interface DraDeviceClass {
  apiVersion: 'resource.k8s.io/v1';
  kind: 'DeviceClass';
  metadata: ObjectMeta;
  spec: { selectors?: CelSelector[] };
}
