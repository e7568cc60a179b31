import { describe, expect, it } from 'vitest';
import { asksForEveryNic, selectNics, type NicCandidate, type SelectionRequest } from '../../../src/lib/select/select.js';
import { InvalidSelectionError, NoMatchingNicError, UnknownDeviceClassError } from '../../../src/lib/select/errors.js';

// Four NICs as on a GPU node: two Mellanox 200G on NUMA 0/1, one 100G EFA on NUMA 1, one 25G virtio.
const eth1: NicCandidate = { name: 'eth1', netAddress: '10.0.1.0/24', interfaceIndex: 0, vendor: '15b3', product: '1019', pciAddress: '0000:3b:00.0', numaNode: 0, speed: 200_000, allocations: 3 };
const eth2: NicCandidate = { name: 'eth2', netAddress: '10.0.2.0/24', interfaceIndex: 1, vendor: '15b3', product: '1019', pciAddress: '0000:5e:00.0', numaNode: 1, speed: 200_000, allocations: 1 };
const eth3: NicCandidate = { name: 'eth3', netAddress: '10.0.3.0/24', interfaceIndex: 2, vendor: '1d0f', product: 'efa1', pciAddress: '0000:af:00.0', numaNode: 1, speed: 100_000, allocations: 0 };
const eth4: NicCandidate = { name: 'eth4', netAddress: '10.0.4.0/24', interfaceIndex: 3, vendor: '1af4', product: '1041', pciAddress: '', numaNode: -1, speed: 25_000, allocations: 0 };
const ALL = [eth3, eth1, eth4, eth2]; // deliberately unordered: selection orders by interface index

const classes = {
  highspeed: { ids: [{ vendor: '15b3', products: ['1019'] }, { vendor: '1d0f', products: ['efa0', 'efa1'] }] },
  efa: { ids: [{ vendor: '0x1D0F', products: ['EFA1'] }] },
  none: { ids: [{ vendor: 'ffff', products: ['0000'] }] },
};

const run = (req: Partial<SelectionRequest>) => selectNics({ candidates: ALL, deviceClasses: classes, ...req });
const names = (req: Partial<SelectionRequest>) => run(req).nics.map((n) => n.name);

describe('selectNics', () => {
  it.each<[string, Partial<SelectionRequest>, string[]]>([
    ['none: every NIC in interface order', { strategy: 'none' }, ['eth1', 'eth2', 'eth3', 'eth4']],
    ['unknown strategy behaves as none (upstream)', { strategy: 'bogus' }, ['eth1', 'eth2', 'eth3', 'eth4']],
    ['none with nics: the first N', { args: { nics: 2 } }, ['eth1', 'eth2']],
    ['masters in the order given', { args: { masters: ['eth3', 'eth1'] } }, ['eth3', 'eth1']],
    ['master (seed docs spelling) as a list', { args: { master: ['eth2'] } }, ['eth2']],
    ['master as a string', { args: { master: 'eth4' } }, ['eth4']],
    ['masters beats nics', { args: { masters: ['eth2', 'eth3'], nics: 1 } }, ['eth2', 'eth3']],
    ['masters beats the strategy', { strategy: 'perfOpt', args: { masters: ['eth4'] } }, ['eth4']],
    ['devClass without class: no filter', { strategy: 'devClass' }, ['eth1', 'eth2', 'eth3', 'eth4']],
    ['devClass filters by vendor/product', { strategy: 'devClass', args: { class: 'highspeed' } }, ['eth1', 'eth2', 'eth3']],
    ['devClass IDs compare case- and 0x-insensitively', { strategy: 'devClass', args: { class: 'efa' } }, ['eth3']],
    ['devClass then nics', { strategy: 'devClass', args: { class: 'highspeed', nics: 1 } }, ['eth1']],
    ['topology: NICs on the GPUs NUMA node first', { strategy: 'topology', args: { nics: 2 }, gpuNumaNodes: [1, 1] }, ['eth2', 'eth3']],
    ['topology: weight by GPU count per node', { strategy: 'topology', args: { nics: 1 }, gpuNumaNodes: [0, 0, 1] }, ['eth1']],
    ['topology: no GPU facts keeps interface order', { strategy: 'topology', args: { nics: 2 }, gpuNumaNodes: [] }, ['eth1', 'eth2']],
    ['topology: without nics every NIC', { strategy: 'topology', gpuNumaNodes: [1] }, ['eth1', 'eth2', 'eth3', 'eth4']],
    ['perfOpt: fastest until the target (tie → fewer allocations)', { strategy: 'perfOpt', policyTarget: '200Gbps' }, ['eth2']],
    ['perfOpt: target spanning NICs', { strategy: 'perfOpt', policyTarget: '450G' }, ['eth1', 'eth2', 'eth3']],
    ['perfOpt: the pod target beats the network target', { strategy: 'perfOpt', policyTarget: '450G', args: { target: '300G' } }, ['eth1', 'eth2']],
    ['perfOpt: no target, nics fastest', { strategy: 'perfOpt', args: { nics: 1 } }, ['eth2']],
    ['costOpt: fewest NICs, least over-provision', { strategy: 'costOpt', policyTarget: '100G' }, ['eth3']],
    ['costOpt: two NICs when one cannot reach', { strategy: 'costOpt', policyTarget: '220G' }, ['eth2', 'eth4']],
    ['costOpt: equal totals → fewer allocations', { strategy: 'costOpt', policyTarget: '250G' }, ['eth2', 'eth3']],
    ['costOpt: 300G needs a 200G and the 100G', { strategy: 'costOpt', policyTarget: '300G' }, ['eth2', 'eth3']],
    ['costOpt: no target, one least-loaded NIC', { strategy: 'costOpt' }, ['eth3']],
  ])('%s', (_name, req, want) => {
    expect(names(req)).toEqual(want);
  });

  it('device-plugin devices map to NICs by PCI address, whatever the strategy', () => {
    const r = run({ strategy: 'costOpt', policyTarget: '1G', deviceIDs: ['0000:AF:00.0', '0000:3b:00.0'] });
    expect(r).toMatchObject({ reason: 'deviceIDs' });
    expect(r.nics.map((n) => n.name)).toEqual(['eth3', 'eth1']);
  });

  it.each<[string, Partial<SelectionRequest>, new (...a: never[]) => Error, RegExp]>([
    ['masters naming an absent NIC', { args: { masters: ['eth1', 'eth9'] } }, NoMatchingNicError, /masters \[eth1, eth9\] \(absent: eth9\).*eth1, eth2, eth3, eth4/],
    ['masters naming a NIC twice', { args: { masters: ['eth1', 'eth1'] } }, InvalidSelectionError, /eth1 twice/],
    ['nics larger than the pool', { args: { nics: 5 } }, NoMatchingNicError, /nics: 5/],
    ['negative nics', { args: { nics: -1 } }, InvalidSelectionError, /non-negative/],
    ['unknown class', { strategy: 'devClass', args: { class: 'gold' } }, UnknownDeviceClassError, /"gold" does not exist \(known: efa, highspeed, none\)/],
    ['class with no member here', { strategy: 'devClass', args: { class: 'none' } }, NoMatchingNicError, /DeviceClass "none".*eth1 \(15b3:1019\)/],
    ['devClass then too many nics', { strategy: 'devClass', args: { class: 'efa', nics: 2 } }, NoMatchingNicError, /nics: 2/],
    ['perfOpt target above the host total', { strategy: 'perfOpt', policyTarget: '1Tbps' }, NoMatchingNicError, /target 1Tbps.*all NICs together give 525Gbps/s],
    ['costOpt target above the host total', { strategy: 'costOpt', policyTarget: '600G' }, NoMatchingNicError, /target 600Gbps/],
    ['perfOpt target beyond nics', { strategy: 'perfOpt', policyTarget: '300G', args: { nics: 1 } }, NoMatchingNicError, /within nics: 1/],
    ['bad target', { strategy: 'perfOpt', args: { target: 'lots' } }, InvalidSelectionError, /"lots" is not a bandwidth/],
    ['device IDs that are not NICs of the network', { deviceIDs: ['0000:99:00.1'] }, NoMatchingNicError, /0000:99:00\.1/],
  ])('%s → typed error', (_name, req, cls, msg) => {
    let err: unknown;
    try {
      run(req);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(cls);
    expect(`${(err as Error).message} (hint: ${(err as { hint?: string }).hint})`).toMatch(msg);
    expect((err as { hint?: string }).hint).toBeTruthy();
  });

  it('an empty candidate list with no constraint selects nothing rather than failing', () => {
    expect(selectNics({ candidates: [] }).nics).toEqual([]);
  });
});

describe('asksForEveryNic (the all-NICs rule applies)', () => {
  it.each<[string, Parameters<typeof asksForEveryNic>[0], boolean]>([
    ['no policy, no args', {}, true],
    ['strategy none', { strategy: 'none' }, true],
    ['an unknown strategy (read as none)', { strategy: 'roundRobin' }, true],
    ['topology without nics', { strategy: 'topology' }, true],
    ['devClass without class', { strategy: 'devClass' }, true],
    ['perfOpt without target', { strategy: 'perfOpt' }, true],
    ['nics: 0 (same as absent)', { args: { nics: 0 } }, true],
    ['a count', { args: { nics: 3 } }, false],
    ['named masters', { args: { masters: ['eth1'] } }, false],
    ['the seed docs spelling master', { args: { master: 'eth1' } }, false],
    ['device-plugin devices', { deviceIDs: ['0000:3b:00.0'] }, false],
    ['devClass with a class', { strategy: 'devClass', args: { class: 'hs' } }, false],
    ['perfOpt with the policy target', { strategy: 'perfOpt', policyTarget: '200Gbps' }, false],
    ['perfOpt with the pod target', { strategy: 'perfOpt', args: { target: '200Gbps' } }, false],
    ['costOpt (one NIC or a target)', { strategy: 'costOpt' }, false],
  ])('%s → %s', (_name, req, want) => {
    expect(asksForEveryNic(req)).toBe(want);
  });
});
