// What the TUI derives from a snapshot: the same numbers and verdicts as the StatusReport, cells
// judged from kernel truth when agents publish it, else from what status knows.
import { describe, expect, it } from 'vitest';
import { cellDetail, gridOf, networkRows, nodeRows, podRows, statusOf } from '../../../src/lib/ui/model.js';
import { labData, withBlockGone, withDiagnostics, withNicUndiscovered, withPod } from '../../ui/fixture.js';

const NET = 'multi-nic-sample';
const cells = (d: ReturnType<typeof labData>) => gridOf(d, NET)?.rows.flatMap((r) => r.cells.map((c) => `${r.host}/${c.nic}:${c.health}:${c.route}`));

describe('grid', () => {
  it('a healthy lab: every cell ok, routes ok, blocks from the CIDR', () => {
    const g = gridOf(labData({ hosts: 3, nics: 2 }), NET);
    expect(g?.columns).toEqual([{ interfaceIndex: 0, netAddress: '10.0.1.0/24' }, { interfaceIndex: 1, netAddress: '10.0.2.0/24' }]);
    expect(g?.rows.map((r) => [r.host, r.health, ...r.cells.map((c) => `${c.nic} ${c.podCIDR} ${c.used}/${c.capacity} ${c.route}`)])).toEqual([
      ['host1', 'ok', 'eth1 192.168.0.0/24 0/253 ok', 'eth2 192.168.64.0/24 0/253 ok'],
      ['host2', 'ok', 'eth1 192.168.1.0/24 0/253 ok', 'eth2 192.168.65.0/24 0/253 ok'],
      ['host3', 'ok', 'eth1 192.168.2.0/24 0/253 ok', 'eth2 192.168.66.0/24 0/253 ok'],
    ]);
  });

  const rows: Array<[string, (d: ReturnType<typeof labData>) => ReturnType<typeof labData>, string[]]> = [
    ['kernel truth: a NIC down fails that cell only', (d) => withDiagnostics(d, 'host2', { down: ['eth2'] }), ['host2/eth2:fail:down']],
    ['kernel truth: a route missing on eth1 fails that cell', (d) => withDiagnostics(d, 'host1', { missing: [{ dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' }] }), ['host1/eth1:fail:1 missing']],
    ['status data: a NIC the agent no longer discovers fails', (d) => withNicUndiscovered(d, 'host3', 'eth1'), ['host3/eth1:fail:down']],
    ['status data: once re-planned without that NIC, the host has no block there and fails', (d) => withBlockGone(d, 'host3', 'eth2'), ['host3/:fail:no NIC']],
    [
      'status data: a host whose routes are not reported warns on every cell',
      (d) => {
        const n = d.snapshot.networks[0]!;
        n.status = { ...n.status, hosts: n.status!.hosts!.map((h) => (h.hostName === 'host1' ? { ...h, ready: false } : h)) };
        return d;
      },
      ['host1/eth1:warn:pending', 'host1/eth2:warn:pending'],
    ],
    [
      'a node not Ready fails its cells',
      (d) => {
        d.snapshot.nodes[0]!.status = { conditions: [{ type: 'Ready', status: 'False' }] };
        return d;
      },
      ['host1/eth1:fail:node', 'host1/eth2:fail:node'],
    ],
  ];
  it.each(rows)('%s', (_n, change, notOk) => {
    const all = cells(change(labData({ hosts: 3, nics: 2 }))) ?? [];
    expect(all.filter((c) => !c.includes(':ok:'))).toEqual(notOk);
  });

  it('a pool at 90% warns', () => {
    const d = labData({ hosts: 2, nics: 1 });
    const p = d.snapshot.ippools[0]!;
    p.spec.allocations = Array.from({ length: 229 }, (_, i) => ({ pod: `p${i}`, namespace: 'default', index: i + 2, address: `192.168.0.${i + 2}` }));
    const c = gridOf(d, NET)?.rows[0]?.cells[0];
    expect([c?.health, c?.reasons]).toEqual(['warn', [`pool ${p.metadata.name} 229/253 used`]]);
  });
});

describe('networks list', () => {
  it('shows the status report numbers: hosts ready, pool use summed over its pools', () => {
    const d = withPod(labData({ hosts: 3, nics: 2 }), 'trainer-0', 'host2');
    const st = statusOf(d).networks[0]!;
    const row = networkRows(d)[0]!;
    expect(row).toMatchObject({ name: NET, mode: 'macvlan l3', ready: st.ready, hostsReady: 3, hosts: 3, used: 2, capacity: '1518', routes: { health: 'ok', text: 'ok' }, problem: '', health: 'ok' });
    expect(row.used).toBe(st.hosts.flatMap((h) => h.nics).reduce((a, n) => a + n.used, 0));
  });

  it('a failing cell makes the network failing and says how many', () => {
    const row = networkRows(withDiagnostics(labData({ hosts: 3, nics: 2 }), 'host2', { down: ['eth1', 'eth2'] }))[0]!;
    expect([row.health, row.routes]).toEqual(['fail', { health: 'fail', text: '2 failing' }]);
  });
});

describe('cell detail', () => {
  it('block, shim gateway, routes desired vs present from the report, allocations from the IPPool', () => {
    const d = withPod(labData({ hosts: 3, nics: 2 }), 'trainer-0', 'host2');
    const c = cellDetail(d, NET, 'host2', 1)!;
    expect({ pool: c.pool, hostIP: c.hostIP, gateway: c.gateway, desired: c.routesDesired, present: c.routesPresent, source: c.routesSource, allocations: c.allocations }).toEqual({
      pool: 'multi-nic-sample-192.168.65.0-24',
      hostIP: '10.0.2.2',
      gateway: '192.168.65.1',
      desired: 2,
      present: 2,
      source: 'report',
      allocations: [{ pod: 'default/trainer-0', address: '192.168.65.2', interface: 'net1-1' }],
    });
  });

  it('kernel truth: present = desired minus missing, missing listed', () => {
    const d = withDiagnostics(labData({ hosts: 3, nics: 2 }), 'host1', { missing: [{ dst: '192.168.1.0/24', via: '10.0.1.2', dev: 'eth1' }] });
    const c = cellDetail(d, NET, 'host1', 0)!;
    expect([c.routesDesired, c.routesPresent, c.routesSource, c.missing]).toEqual([2, 1, 'kernel', ['192.168.1.0/24 via 10.0.1.2 dev eth1']]);
  });
});

describe('nodes and pods', () => {
  it('nodes: NIC hardware and link, agent version; a NIC down in kernel truth fails the node', () => {
    const r = nodeRows(withDiagnostics(labData({ hosts: 2, nics: 2 }), 'host2', { down: ['eth1'] }));
    expect(r.map((n) => [n.name, n.health, n.agentVersion, n.nics.map((x) => `${x.name} ${x.vendorProduct} numa${x.numa} ${x.speed} ${x.mtu} ${x.link}`)])).toEqual([
      ['host1', 'ok', '0.1.0', ['eth1 15b3:1017 numa0 100G 9000 up', 'eth2 15b3:1017 numa1 100G 9000 up']],
      ['host2', 'fail', '0.1.0', ['eth1 15b3:1017 numa0 100G 9000 admin down', 'eth2 15b3:1017 numa1 100G 9000 up']],
    ]);
  });

  it('pods: only those on our networks, each interface with its address and host NIC', () => {
    const d = withPod(labData({ hosts: 3, nics: 2 }), 'trainer-0', 'host2');
    d.pods.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/network-status': '[{"name":"default/other","interface":"net1","ips":["1.2.3.4"]}]' } } });
    expect(podRows(d)).toEqual([
      {
        name: 'default/trainer-0',
        node: 'host2',
        phase: 'Running',
        interfaces: [
          { network: NET, interface: 'net1-0', addresses: ['192.168.1.2'], hostNic: 'host2/eth1' },
          { network: NET, interface: 'net1-1', addresses: ['192.168.65.2'], hostNic: 'host2/eth2' },
        ],
      },
    ]);
  });
});
