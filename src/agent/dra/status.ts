// KEP-4817 per-device status in the pod's ResourceClaims: after an ADD that attached claimed NICs,
// each claimed device gets `status.devices[]` {driver, pool, device, networkData {interfaceName,
// ips (CIDR form), hardwareAddress}, conditions Ready and NetworkReady}; a release (CNI DEL) clears
// our entries. Off the hot path: the ADD has answered already; the MAC is read from the pod netns
// once the delegate has created the interface. Work is serialised per pod, so a DEL that follows a
// failed ADD always clears after the ADD's write. Entries of other drivers are left as they are.
import { ipJson } from '../../host/exec.js';
import type { AllocatedNic } from '../../lib/agent/protocol.js';
import type { PreparedClaim } from '../../lib/dra/claim.js';
import { DRIVER, type AllocatedDeviceStatus, type ResourceClaim } from '../../lib/dra/types.js';
import { R } from '../../lib/k8s/resources.js';
import { isConflict, isNotFound, type KubeApi } from '../../kube/api.js';

export interface ClaimStatusOptions {
  api: Pick<KubeApi, 'get' | 'replace'>;
  /** The pod's prepared claims (src/agent/dra/prepared.ts). */
  claimsOf: (podUID: string) => PreparedClaim[];
  /** Interface name → MAC inside a pod netns (default: `ip -json link show` there). */
  readMacs?: (netnsPath: string) => Promise<Record<string, string>>;
  /** How long to wait for the pod interfaces to appear (default 10 s). */
  macWaitMs?: number;
  driver?: string;
  log?: (event: Record<string, unknown>) => void;
  now?: () => Date;
}

const defaultReadMacs = async (path: string): Promise<Record<string, string>> =>
  Object.fromEntries((await ipJson<{ ifname: string; address?: string }>(['link', 'show'], { path })).map((l) => [l.ifname, l.address ?? '']));

/** The status entry of one claimed NIC (pure). */
export function deviceStatus(o: { driver: string; pool: string; device: string; nic: AllocatedNic; mac?: string; at: string }): AllocatedDeviceStatus {
  const cond = (type: string) => ({ type, status: 'True' as const, reason: 'Attached', message: `${o.nic.podInterface} on host NIC ${o.nic.master}${o.nic.address ? ` with ${o.nic.address}` : ''}`, lastTransitionTime: o.at });
  return {
    driver: o.driver,
    pool: o.pool,
    device: o.device,
    conditions: [cond('Ready'), cond('NetworkReady')],
    networkData: { interfaceName: o.nic.podInterface, ...(o.nic.address ? { ips: [o.nic.address] } : {}), ...(o.mac ? { hardwareAddress: o.mac } : {}) },
  };
}

export class ClaimStatusWriter {
  private readonly chains = new Map<string, Promise<void>>();
  constructor(private readonly o: ClaimStatusOptions) {}

  /** After an ADD: writes the claimed NICs' status (returns when written; callers need not wait). */
  attached(podUID: string, netns: string | undefined, nics: readonly AllocatedNic[]): Promise<void> {
    const claims = this.o.claimsOf(podUID);
    if (!claims.length) return Promise.resolve();
    return this.serial(podUID, async () => {
      const macs = netns ? await this.waitMacs(netns, nics.map((n) => n.podInterface)) : {};
      const at = (this.o.now ?? (() => new Date()))().toISOString().replace(/\.\d+Z$/, 'Z');
      for (const c of claims) {
        const mine = c.nics.flatMap((cn) => {
          const nic = nics.find((n) => n.master === cn.interfaceName);
          return nic ? [deviceStatus({ driver: this.driver, pool: cn.pool, device: cn.device, nic, mac: macs[nic.podInterface], at })] : [];
        });
        if (mine.length) await this.update(c, (devices) => [...devices.filter((d) => !mine.some((m) => same(m, d))), ...mine]);
      }
    });
  }

  /** After a release (CNI DEL): clears our entries in the pod's claims. Idempotent. */
  released(podUID: string): Promise<void> {
    const claims = this.o.claimsOf(podUID);
    if (!claims.length) return Promise.resolve();
    return this.serial(podUID, async () => {
      for (const c of claims) await this.update(c, (devices) => devices.filter((d) => !(d.driver === this.driver && c.nics.some((n) => n.pool === d.pool && n.device === d.device))));
    });
  }

  private get driver(): string {
    return this.o.driver ?? DRIVER;
  }

  private serial(podUID: string, fn: () => Promise<void>): Promise<void> {
    const log = this.o.log ?? (() => undefined);
    const next = (this.chains.get(podUID) ?? Promise.resolve()).then(fn).catch((e: Error) => log({ level: 'warn', msg: 'ResourceClaim status update failed', pod: podUID, error: e.message }));
    this.chains.set(podUID, next);
    void next.then(() => {
      if (this.chains.get(podUID) === next) this.chains.delete(podUID);
    });
    return next;
  }

  private async waitMacs(netns: string, names: string[]): Promise<Record<string, string>> {
    const read = this.o.readMacs ?? defaultReadMacs;
    const until = Date.now() + (this.o.macWaitMs ?? 10_000);
    let macs: Record<string, string> = {};
    for (;;) {
      macs = await read(netns).catch(() => ({}));
      if (names.every((n) => macs[n]) || Date.now() >= until) return macs;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Read-modify-write of the claim's status.devices with optimistic concurrency; a claim gone (or re-created) is skipped. */
  private async update(c: PreparedClaim, edit: (devices: AllocatedDeviceStatus[]) => AllocatedDeviceStatus[]): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const live = await this.o.api.get<ResourceClaim>(R.ResourceClaim, c.name, c.namespace);
      if (!live || live.metadata.uid !== c.uid) return;
      const before = live.status?.devices ?? [];
      const after = edit(before);
      if (JSON.stringify(after) === JSON.stringify(before)) return;
      const status = { ...live.status, devices: after };
      if (!after.length) delete (status as { devices?: unknown }).devices;
      try {
        await this.o.api.replace(R.ResourceClaim, { ...live, status }, { subresource: 'status' });
        return;
      } catch (e) {
        if (isConflict(e)) continue;
        if (isNotFound(e)) return;
        throw e;
      }
    }
    throw new Error(`failed to update status of ResourceClaim ${c.namespace}/${c.name}: conflicting writes 5 times in a row`);
  }
}

const same = (a: AllocatedDeviceStatus, b: AllocatedDeviceStatus): boolean => a.driver === b.driver && a.pool === b.pool && a.device === b.device;
