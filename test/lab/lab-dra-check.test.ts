// `check --via claim` in the lab (prefix dk): two hosts with two NICs, install --dra. Each iperf3
// pod gets the NIC under test through a ResourceClaim (from a per-test template) that the lab's
// scheduler stand-in allocates on the pod's host (node affinity), the real agent prepares and the
// real multi-nic CNI attaches as a real macvlan in the pod's real netns; the check reads the pod's
// address from the claim's status.devices, and real iperf3 runs over every NIC. A pass means the
// traffic left from the address the claim names (the check fails a test whose iperf3 source is
// another). The run leaves no pod, claim or template behind; without the DeviceClass it refuses.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeApi } from '../../src/kube/api.js';
import type { CheckReport } from '../../src/lib/check/types.js';
import { networkDeviceClass } from '../../src/lib/dra/slices.js';
import type { ResourceClaim } from '../../src/lib/dra/types.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { R } from '../../src/lib/k8s/resources.js';
import { readNetworkStatus } from '../../src/lib/multus.js';
import { repoRoot } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { installedLab, nodeSlice, type InstalledLab } from '../helpers/lab.js';
import { hasCniPlugins, hasIperf3, privileged } from '../helpers/privileged.js';

const prefix = 'dk';
const ready = privileged.ok && hasCniPlugins && hasIperf3;
const why = !privileged.ok ? privileged.reason : !hasCniPlugins ? 'needs containernetworking-plugins in /usr/lib/cni' : 'needs iperf3';
let lab: InstalledLab | undefined;
let kube: KubeApi;
const cli = (args: string[], timeoutMs = 240_000) => lab!.cli(args, timeoutMs);
const RUN_LABEL = 'multinic.fms.io/check-run';

interface CheckPod extends KubeObject {
  spec?: { nodeName?: string; resourceClaims?: Array<{ name: string; resourceClaimTemplateName?: string }>; affinity?: unknown };
  status?: { resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string }> };
}

describe.skipIf(!ready)(`lab check --via claim${ready ? '' : ` (skipped: ${why})`}`, () => {
  beforeAll(async () => {
    lab = await installedLab({ prefix, tmpPrefix: 'dk-check-', hosts: 2, nics: 2, install: ['--dra'], network: () => join(repoRoot, 'examples/lab-network.yaml') });
    ({ kube } = lab);
    for (const host of ['host1', 'host2']) {
      await eventually(async () => {
        const s = await nodeSlice(kube, host);
        expect(s?.spec.devices?.map((d) => `${d.name}:${d.attributes?.networks?.string}`)).toEqual(['eth1:multi-nic-sample', 'eth2:multi-nic-sample']);
      }, 60_000, 250);
    }
  }, 400_000);

  afterAll(async () => {
    await lab?.down();
  }, 60_000);

  it('a host pair passes over both NICs with pods that got their NIC by claim; each pod\'s claim holds exactly the NIC under test, its address read from the claim', async () => {
    // One host pair (star over two hosts), so the kept pods' claims hold no NIC another pair needs.
    const r = await cli(['check', '--via', 'claim', '--pairs', 'star', '--duration', '1', '--keep-pods', '-o', 'json']);
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    const rep = JSON.parse(r.stdout) as CheckReport;
    expect(rep.spec.via).toBe('claim');
    expect(rep.summary).toMatchObject({ result: 'pass', total: 2, passed: 2, failed: 0 });
    expect(rep.tests.map((t) => `${t.client.host}->${t.server.host}/nic${t.nicIndex}`).sort()).toEqual(['host2->host1/nic0', 'host2->host1/nic1']);
    for (const t of rep.tests) {
      for (const side of [t.client, t.server]) {
        // The pod: no nodeName of ours (the scheduler stand-in bound it), its NIC by claim, not by cni-args masters.
        const pod = (await kube.get<CheckPod>(R.Pod, side.pod!, 'default'))!;
        expect(pod.spec?.resourceClaims?.map((c) => c.name)).toEqual(['nic']);
        expect(pod.spec?.nodeName).toBe(side.host);
        expect(JSON.parse(pod.metadata?.annotations?.['k8s.v1.cni.cncf.io/networks'] ?? '[]')).toEqual([{ name: 'multi-nic-sample', namespace: 'default', interface: 'net1' }]);
        // The claim named in the report is the pod's; it holds exactly the NIC under test on that host.
        const claimName = pod.status?.resourceClaimStatuses?.find((s) => s.name === 'nic')?.resourceClaimName;
        expect(side.claim, `${t.id} ${side.pod}`).toBe(`default/${claimName}`);
        const claim = (await kube.get<ResourceClaim>(R.ResourceClaim, claimName!, 'default'))!;
        expect(claim.status?.allocation?.devices?.results?.map((x) => `${x.driver}/${x.pool}/${x.device}`)).toEqual([`multinic.fms.io/${side.host}/${side.interface}`]);
        expect(claim.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Pod', name: side.pod });
        // The address the check used is the one the CNI gave the pod on that NIC (Multus' view, as the lab's runner writes it).
        const st = readNetworkStatus(pod.metadata?.annotations) ?? [];
        expect(st.filter((s) => s.name === 'default/multi-nic-sample').flatMap((s) => s.ips ?? [])).toContain(side.address);
      }
    }
    // Kept pods and their templates, deleted here: the claims go with their pods.
    const runId = rep.metadata.name.replace(/^check-/, '');
    const pods = (await kube.list(R.Pod, { namespace: 'default', labelSelector: `${RUN_LABEL}=${runId}` })).items;
    expect(pods.length).toBeGreaterThanOrEqual(4);
    expect((await kube.list(R.ResourceClaimTemplate, { namespace: 'default', labelSelector: `${RUN_LABEL}=${runId}` })).items).toHaveLength(4);
    for (const p of pods) await kube.delete(R.Pod, p.metadata!.name!, 'default');
    for (const t of (await kube.list(R.ResourceClaimTemplate, { namespace: 'default', labelSelector: `${RUN_LABEL}=${runId}` })).items) await kube.delete(R.ResourceClaimTemplate, t.metadata!.name!, 'default');
    await eventually(async () => expect((await kube.list(R.ResourceClaim, { namespace: 'default' })).items).toEqual([]), 60_000, 500);
  }, 300_000);

  it('every NIC of every ordered host pair passes by claim (a pair\'s NICs are freed for the next), and the run leaves no pod, claim or template behind', async () => {
    const r = await cli(['check', '--via', 'claim', '--duration', '1', '-o', 'json']);
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    const rep = JSON.parse(r.stdout) as CheckReport;
    expect(rep.summary).toMatchObject({ result: 'pass', total: 4, passed: 4, failed: 0 });
    expect(rep.tests.map((t) => `${t.client.host}->${t.server.host}/nic${t.nicIndex}`).sort()).toEqual(['host1->host2/nic0', 'host1->host2/nic1', 'host2->host1/nic0', 'host2->host1/nic1']);
    for (const t of rep.tests) for (const side of [t.client, t.server]) expect(side.claim, `${t.id}`).toMatch(/^default\/mnchk-\w+-\d+-[sc]-nic-\w+$/);
    expect((await kube.list(R.ResourceClaimTemplate, { namespace: 'default' })).items).toEqual([]);
    expect((await kube.list(R.Pod, { namespace: 'default', labelSelector: RUN_LABEL })).items).toEqual([]);
    await eventually(async () => expect((await kube.list(R.ResourceClaim, { namespace: 'default' })).items).toEqual([]), 60_000, 500);
  }, 240_000);

  it('refuses --keep-pods over host pairs that share a host, and --via claim for a network without its DRA DeviceClass (exit 2, nothing created)', async () => {
    const keep = await cli(['check', '--via', 'claim', '--keep-pods', '--duration', '1']);
    expect(keep.code).toBe(2);
    expect(keep.stderr).toMatch(/--keep-pods with --via claim: host pairs multi-nic-sample\/host\d->host\d and multi-nic-sample\/host\d->host\d share host host\d/);
    expect((await kube.list(R.Pod, { namespace: 'default', labelSelector: RUN_LABEL })).items).toEqual([]);
    await kube.delete(R.DraDeviceClass, 'multi-nic-sample.multinic.fms.io');
    try {
      const r = await cli(['check', '--via', 'claim', '--duration', '1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--via claim: no DeviceClass "multi-nic-sample.multinic.fms.io" for network multi-nic-sample');
      expect(r.stderr).toContain('apply the network again after install --dra');
      expect((await kube.list(R.Pod, { namespace: 'default', labelSelector: RUN_LABEL })).items).toEqual([]);
    } finally {
      await kube.create(R.DraDeviceClass, networkDeviceClass('multi-nic-sample') as unknown as KubeObject);
    }
  }, 120_000);
});
