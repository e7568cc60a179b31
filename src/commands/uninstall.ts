import { createInterface } from 'node:readline/promises';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { waitFor } from '../cli/wait.js';
import { ExitCode, UserError, wrapError } from '../lib/errors.js';
import { ApiError, type KubeApi } from '../kube/api.js';
import { parseDuration } from '../kube/client.js';
import type { KubeObject } from '../lib/k8s/meta.js';
import { MULTINIC_GROUP, R, refFor, type ResourceRef } from '../lib/k8s/resources.js';
import { displayName, isOurs, uninstallOrder } from '../lib/install/apply.js';
import { NAD_CRD_NAME } from '../lib/install/nad-crd.js';
import { DEFAULT_NAMESPACE, GENERATED_LABEL, renderInstall } from '../lib/install/render.js';
import { isNetworkDeviceClass } from '../lib/dra/slices.js';
import { DRIVER } from '../lib/dra/types.js';

/** One removed object, named as the API names it: apiVersion (its group) and kind, so a DeviceClass of
 * multinic.fms.io and one of resource.k8s.io are told apart as every other kind is. */
export interface RemovedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** What `uninstall` removed (returned by run()). */
export interface UninstallResult {
  apiVersion: 'multinic.fms.io/v1';
  kind: 'UninstallResult';
  namespace: string;
  /** Networks and their generated objects (deleted after confirmation). */
  networks: RemovedObject[];
  /** What install had put in (DaemonSet, RBAC, namespace, CRDs unless --keep-crds). */
  installed: RemovedObject[];
  /** The agents' ResourceSlices (install --dra), removed once the agents can no longer write them. */
  resourceSlices: RemovedObject[];
}

/**
 * Every optional object install can render: uninstall looks for each (by name, in the namespace) and
 * removes those that carry our label, whatever flags the install ran with. Kinds the cluster does
 * not serve (no Prometheus Operator) read as absent.
 */
const MONITORING = { podMonitor: true, serviceMonitor: true, prometheusRule: true } as const;

/** Network state, in deletion order: intent first so the agents (still running) tear down routes and pools. */
const NETWORK_KINDS: ResourceRef[] = [R.MultiNicNetwork, R.NetworkAttachmentDefinition, R.IPPool, R.CIDR, R.HostInterface];

export default class UninstallCommand extends BaseCommand<typeof UninstallCommand> {
  static override summary = 'Remove the agent, its RBAC and namespace, the CRDs, and (after confirmation) every network.';
  static override description = `Deletes networks first, while the agents still run and can undo routes and pools: MultiNicNetworks, the NetworkAttachmentDefinitions we generated (label ${GENERATED_LABEL}=true), IPPools, CIDRs, HostInterfaces (and DeviceClasses unless --keep-crds). That needs confirmation: asked on a terminal, --yes otherwise. Then what install created, in reverse order. Objects that existed before install (a shared namespace, Multus's NetworkAttachmentDefinition CRD) are left alone.

The PodMonitor, ServiceMonitor (and its Service) and PrometheusRule that install --pod-monitor, --service-monitor and --prometheus-rule add are removed too.

DRA (install --dra, docs/dra.md): the resource.k8s.io DeviceClasses apply made for the networks go with the networks; the agents' ResourceSlices (driver ${DRIVER}) are deleted last, after the agents' ClusterRole, so no agent can publish one again and the scheduler allocates no NIC that no driver serves.

-n/--namespace is the namespace install used (default ${DEFAULT_NAMESPACE}).`;
  static override examples = ['<%= config.bin %> uninstall', '<%= config.bin %> uninstall --yes', '<%= config.bin %> uninstall --yes --keep-crds'];
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Delete networks without asking.', default: false }),
    'keep-crds': Flags.boolean({ description: 'Keep the CustomResourceDefinitions (and DeviceClasses).', default: false }),
    timeout: Flags.string({ description: 'How long to wait for networks to finish deleting (finalizers) before removing the agents.', default: '60s' }),
  };

  async run(): Promise<UninstallResult> {
    const f = this.flags;
    const namespace = f.namespace ?? DEFAULT_NAMESPACE;
    const timeoutMs = parseDuration(f.timeout);
    const api = await this.kube();
    await api.version();

    const kinds = f['keep-crds'] ? NETWORK_KINDS : [...NETWORK_KINDS, R.DeviceClass];
    const networks: KubeObject[] = [];
    for (const r of kinds) {
      const opts = r === R.NetworkAttachmentDefinition ? { labelSelector: `${GENERATED_LABEL}=true` } : {};
      networks.push(...(await listIfServed(api, r, opts)));
    }
    // apply's DRA DeviceClasses (<network>.multinic.fms.io with our selector); a user's class is left.
    networks.push(...(await listIfServed(api, R.DraDeviceClass, {})).filter(isNetworkDeviceClass));
    // The same object set install renders (the NAD CRD included: removed only if it carries our label).
    const installed: KubeObject[] = [];
    for (const o of uninstallOrder(renderInstall({ version: this.config.version, namespace, nadCrd: !f['keep-crds'], crds: !f['keep-crds'], ...MONITORING }))) {
      const existing = await api.get(refOf(o), o.metadata?.name ?? '', o.metadata?.namespace);
      if (!isOurs(existing)) continue;
      if (o.metadata?.name === NAD_CRD_NAME) {
        // Deleting a CRD deletes every object of its kind: keep it while NADs we did not generate use it.
        const foreign = (await listIfServed(api, R.NetworkAttachmentDefinition, {})).filter((n) => n.metadata?.labels?.[GENERATED_LABEL] !== 'true');
        if (foreign.length) {
          this.note(`note: keeping CustomResourceDefinition ${NAD_CRD_NAME}: ${foreign.length} NetworkAttachmentDefinition(s) not generated by multinic use it (e.g. ${foreign[0]!.metadata?.namespace}/${foreign[0]!.metadata?.name})`);
          continue;
        }
      }
      installed.push(existing!);
    }
    const slices = await ourSlices(api);
    if (!networks.length && !installed.length && !slices.length) {
      this.out(`nothing to uninstall: no kubectl-multinic objects found (namespace ${namespace})`);
      return { apiVersion: 'multinic.fms.io/v1', kind: 'UninstallResult', namespace, networks: [], installed: [], resourceSlices: [] };
    }

    if (networks.length && !f.yes) await this.confirm(networks);

    const result: UninstallResult = { apiVersion: 'multinic.fms.io/v1', kind: 'UninstallResult', namespace, networks: [], installed: [], resourceSlices: [] };
    for (const o of networks) {
      await this.remove(api, o);
      result.networks.push(removed(o));
    }
    await this.waitGone(api, networks, timeoutMs);
    for (const o of installed) {
      await this.remove(api, o);
      result.installed.push(removed(o));
    }
    // Listed again: an agent that started meanwhile may have published one before losing its role.
    for (const o of await ourSlices(api)) {
      await this.remove(api, o);
      result.resourceSlices.push(removed(o));
    }
    return result;
  }

  /** Asks on a terminal; refuses (exit 2) without one. Declining changes nothing and exits 1. */
  private async confirm(networks: KubeObject[]): Promise<void> {
    const counts = new Map<string, number>();
    for (const o of networks) counts.set(countLabel(o), (counts.get(countLabel(o)) ?? 0) + 1);
    const parts = [...counts].map(([k, n]) => `${n} ${n === 1 ? k : plural(k)}`);
    const summary = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0]!;
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new UserError(`uninstall would delete ${summary}, but cannot ask for confirmation: stdin is not a terminal`, {
        hint: 'pass --yes to delete them (pods using these networks lose their secondary interfaces on restart)',
        exitCode: ExitCode.Usage,
      });
    }
    const names = networks.filter((o) => o.kind === 'MultiNicNetwork').map((o) => o.metadata?.name);
    this.note(`This deletes ${summary}${names.length ? ` (networks: ${names.join(', ')})` : ''}.`);
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = (await rl.question('Delete them and uninstall? [y/N] ')).trim().toLowerCase();
      if (answer !== 'y' && answer !== 'yes') throw new UserError('uninstall cancelled; nothing was changed', { exitCode: ExitCode.Problems });
    } finally {
      rl.close();
    }
  }

  private async remove(api: KubeApi, o: KubeObject): Promise<void> {
    const name = o.metadata?.name ?? '';
    try {
      const gone = !(await api.delete(refOf(o), name, o.metadata?.namespace, { propagationPolicy: 'Background' }));
      this.out(`${displayName(o)}${o.metadata?.namespace ? ` -n ${o.metadata.namespace}` : ''} ${gone ? 'already gone' : 'deleted'}`);
    } catch (e) {
      throw wrapError(`failed to delete ${o.kind} "${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${name}"`, e);
    }
  }

  /** Waits until deleted networks are really gone, so agents can run their finalizers before they go. */
  private async waitGone(api: KubeApi, objects: KubeObject[], timeoutMs: number): Promise<void> {
    if (objects.length === 0) return;
    let left = objects;
    const w = await waitFor({
      poll: async () => {
        const still: KubeObject[] = [];
        for (const o of left) {
          const cur = await api.get(refOf(o), o.metadata?.name ?? '', o.metadata?.namespace).catch((e: unknown) => {
            if (e instanceof ApiError && e.code === 404) return undefined;
            throw e;
          });
          if (cur && cur.metadata?.uid === o.metadata?.uid) still.push(cur);
        }
        return (left = still);
      },
      settled: (still) => still.length === 0,
      line: (still) => (still.length ? `terminating: ${still.map((o) => displayName(o)).join(', ')}` : `deleted ${objects.length} network object(s)`),
      timeoutMs,
      note: (t) => this.note(t),
    });
    if (w.outcome === 'settled') return;
    const which = left.map((o) => `${displayName(o)} (finalizers: ${(o.metadata?.finalizers ?? []).join(', ') || 'none'})`).join('; ');
    throw new UserError(`${left.length} object(s) still terminating after ${Math.round(timeoutMs / 1000)}s: ${which}`, {
      hint: 'the agents are left running so they can finish; check their logs (kubectl -n NAMESPACE logs -l app.kubernetes.io/name=multinic-agent) and run uninstall again',
      exitCode: ExitCode.Problems,
    });
  }
}

/**
 * What the prompt counts an object as: its kind, and the API group when that is not ours or the
 * core one, so our DeviceClasses (multinic.fms.io, PCI IDs) and apply's DRA DeviceClasses
 * (resource.k8s.io) are counted apart.
 */
function countLabel(o: KubeObject): string {
  const group = (o.apiVersion ?? '').includes('/') ? (o.apiVersion ?? '').split('/')[0]! : '';
  return group && group !== MULTINIC_GROUP && group !== 'k8s.cni.cncf.io' ? `${o.kind ?? ''} (${group})` : (o.kind ?? '');
}

/** "1 DeviceClass" / "2 DeviceClasses", "2 DeviceClasses (resource.k8s.io)". */
function plural(label: string): string {
  const [kind = '', ...group] = label.split(' ');
  return [`${kind}${kind.endsWith('s') ? 'es' : 's'}`, ...group].join(' ');
}

function refOf(o: KubeObject): ResourceRef {
  const r = refFor(o.apiVersion, o.kind);
  if (!r) throw new Error(`no resource mapping for ${o.apiVersion} ${o.kind}`);
  return r;
}

function removed(o: KubeObject): RemovedObject {
  return { apiVersion: o.apiVersion ?? '', kind: o.kind ?? '', name: o.metadata?.name ?? '', ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}) };
}

/** The ResourceSlices of our DRA driver (the field selector is the API's; the filter is to be sure). */
async function ourSlices(api: KubeApi): Promise<KubeObject[]> {
  return (await listIfServed(api, R.ResourceSlice, { fieldSelector: `spec.driver=${DRIVER}` })).filter((s) => (s.spec as { driver?: string } | undefined)?.driver === DRIVER);
}

/** Lists a resource; an API that does not serve it (CRD not installed) has none. */
async function listIfServed(api: KubeApi, r: ResourceRef, opts: { labelSelector?: string; fieldSelector?: string }): Promise<KubeObject[]> {
  try {
    return (await api.list<KubeObject>(r, opts)).items;
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) return [];
    throw e;
  }
}
