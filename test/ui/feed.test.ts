// The TUI's cluster feed against the API stand-in: it publishes once the caches fill (also when
// there is nothing), follows changes through its watches, and what it holds builds the same
// StatusReport status builds from its own gatherer.
import { afterEach, describe, expect, it } from 'vitest';
import { gatherSnapshot } from '../../src/cluster/snapshot.js';
import type { HostInterface } from '../../src/lib/crds/types.gen.js';
import { R } from '../../src/lib/k8s/resources.js';
import { buildStatusReport } from '../../src/lib/status.js';
import type { ClusterData } from '../../src/lib/ui/model.js';
import { ClusterFeed } from '../../src/ui/feed.js';
import { eventually } from '../helpers/eventually.js';
import { type TestCluster, createNetwork, createNode, hostNics, seedNetwork, testCluster } from '../agent/kube/helpers.js';

let c: TestCluster | undefined;
let feed: ClusterFeed | undefined;
afterEach(async () => {
  await feed?.stop();
  await c?.close();
  feed = c = undefined;
});

function follow(f: ClusterFeed): { latest: () => ClusterData | undefined; count: () => number } {
  let latest: ClusterData | undefined;
  let n = 0;
  f.subscribe({ data: (d) => ((latest = d), n++), error: () => undefined });
  return { latest: () => latest, count: () => n };
}

describe('ClusterFeed', () => {
  it('publishes an empty cluster once its caches are filled', async () => {
    c = await testCluster();
    feed = new ClusterFeed(c.api);
    const seen = follow(feed);
    const d = await eventually(() => seen.latest() ?? Promise.reject(new Error('no data yet')), 5000, 20);
    expect([d.snapshot.networks, d.snapshot.nodes, d.snapshot.hostInterfaces, d.pods]).toEqual([[], [], [], []]);
  });

  it('follows changes by watch, and its data builds the StatusReport status builds', async () => {
    c = await testCluster();
    createNode(c, 'host1');
    createNetwork(c, seedNetwork());
    const hi = (await c.api.create<HostInterface>(R.HostInterface, { apiVersion: 'multinic.fms.io/v1', kind: 'HostInterface', metadata: { name: 'host1' }, spec: { hostName: 'host1', interfaces: hostNics(0) } })) as HostInterface;
    feed = new ClusterFeed(c.api);
    const seen = follow(feed);
    await eventually(() => expect(seen.latest()?.snapshot.hostInterfaces[0]?.spec.interfaces.map((i) => i.interfaceName)).toEqual(['eth1', 'eth2']), 5000, 20);
    const before = seen.count();
    await c.api.replace(R.HostInterface, { ...hi, spec: { ...hi.spec, interfaces: hostNics(0).slice(0, 1) } });
    await eventually(() => expect(seen.latest()?.snapshot.hostInterfaces[0]?.spec.interfaces.map((i) => i.interfaceName)).toEqual(['eth1']), 5000, 20);
    expect(seen.count()).toBeGreaterThan(before);
    const fromFeed = buildStatusReport(seen.latest()!.snapshot);
    const fromStatus = buildStatusReport(await gatherSnapshot(c.api));
    expect(fromFeed).toEqual(fromStatus);
    expect(fromFeed.nodes[0]?.nics.map((n) => n.name)).toEqual(['eth1']);
  });
});
