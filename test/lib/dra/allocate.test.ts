// The lab scheduler's CEL subset and claim allocation (src/lib/dra/cel.ts, allocate.ts), table-driven
// over slices of the shapes the agent and a GPU driver publish.
import { describe, expect, it } from 'vitest';
import { CelRuntimeError, UnsupportedCelError, evalCel, parseCel } from '../../../src/lib/dra/cel.js';
import { allocateClaim, nodeDevices } from '../../../src/lib/dra/allocate.js';
import { networkDeviceClass, networkSelector } from '../../../src/lib/dra/slices.js';
import type { Device, DraDeviceClass, ResourceClaimSpec, ResourceSlice } from '../../../src/lib/dra/types.js';

const nic = (name: string, extra: Device['attributes'] = {}): Device => ({
  name,
  attributes: { interfaceName: { string: name }, state: { string: 'up' }, networks: { string: 'net-a' }, speed: { int: 100000 }, ...extra },
});
const gpu = (name: string, root: string): Device => ({ name, attributes: { 'resource.kubernetes.io/pcieRoot': { string: root } } });
const slice = (driver: string, node: string, devices: Device[], generation = 1): ResourceSlice => ({
  apiVersion: 'resource.k8s.io/v1',
  kind: 'ResourceSlice',
  metadata: { name: `${node}-${driver}-${generation}` },
  spec: { driver, nodeName: node, pool: { name: node, generation, resourceSliceCount: 1 }, devices },
});
const cls = (name: string, expr: string): DraDeviceClass => ({ apiVersion: 'resource.k8s.io/v1', kind: 'DeviceClass', metadata: { name }, spec: { selectors: [{ cel: { expression: expr } }] } });
const classes = new Map([
  ['net-a.multinic.fms.io', networkDeviceClass('net-a')],
  ['gpu.example.com', cls('gpu.example.com', 'device.driver == "gpu.example.com"')],
]);
const ROOT = 'resource.kubernetes.io/pcieRoot';

describe('CEL subset', () => {
  const d = nic('eth1', { [ROOT]: { string: 'pci0000:3a' } });
  it.each([
    ['the network class selector', networkSelector('net-a'), true],
    ['another network', networkSelector('net-b'), false],
    ['a state selector', 'device.attributes["multinic.fms.io"].state == "up"', true],
    ['index form and int compare', 'device.attributes["multinic.fms.io"]["speed"] >= 100000 && !(device.attributes["multinic.fms.io"].speed > 100000)', true],
    ['a qualified attribute', 'device.attributes["resource.kubernetes.io"].pcieRoot.startsWith("pci0000:")', true],
    ['single quotes and escapes', "device.attributes['multinic.fms.io'].interfaceName == 'eth\\x31'.endsWith('1')", undefined],
    ['short circuit over a missing key', 'device.driver == "gpu.example.com" && device.attributes["gpu.example.com"].model == "x"', false],
    ['|| short circuit', 'true || device.attributes["x.io"].y == 1', true],
  ])('%s', (_name, expr, want) => {
    if (want === undefined) {
      expect(() => evalCel(parseCel(expr), d, 'multinic.fms.io')).toThrow(UnsupportedCelError);
      return;
    }
    expect(evalCel(parseCel(expr), d, 'multinic.fms.io')).toBe(want);
  });

  it('a missing attribute is a runtime error naming it; outside the subset is refused by name', () => {
    expect(() => evalCel(parseCel('device.attributes["multinic.fms.io"].rdma == true'), d, 'multinic.fms.io')).toThrow(CelRuntimeError);
    expect(() => evalCel(parseCel('device.attributes["multinic.fms.io"].rdma == true'), d, 'multinic.fms.io')).toThrow('device eth1 has no attribute multinic.fms.io/rdma');
    expect(() => parseCel('device.attributes.exists(a, a == 1)')).not.toThrow();
    expect(() => evalCel(parseCel('device.attributes.exists(a, a == 1)'), d, 'multinic.fms.io')).toThrow(/method exists\(\) is not in the lab's CEL subset/);
    expect(() => parseCel('device.driver in ["a"]')).toThrow(UnsupportedCelError);
    expect(() => evalCel(parseCel('device.driver == 1'), d, 'multinic.fms.io')).toThrow('no matching overload for string == int');
  });
});

describe('allocateClaim', () => {
  const slices = [
    slice('multinic.fms.io', 'h1', [nic('eth1'), nic('eth2'), nic('eth3', { state: { string: 'down' } })]),
    slice('multinic.fms.io', 'h2', [nic('eth1', { [ROOT]: { string: 'pci0000:3a' } }), nic('eth2', { [ROOT]: { string: 'pci0000:3a' } }), nic('eth3', { [ROOT]: { string: 'pci0000:b0' } })]),
    slice('gpu.example.com', 'h2', [gpu('gpu0', 'pci0000:b0'), gpu('gpu1', 'pci0000:3a'), gpu('gpu2', 'pci0000:3a')]),
  ];
  const nics = (count: number, selectors: string[] = []): ResourceClaimSpec['devices'] => ({
    requests: [{ name: 'nics', exactly: { deviceClassName: 'net-a.multinic.fms.io', count, selectors: selectors.map((expression) => ({ cel: { expression } })) } }],
  });
  const aligned: ResourceClaimSpec = {
    devices: {
      requests: [
        { name: 'gpu', exactly: { deviceClassName: 'gpu.example.com', count: 2 } },
        { name: 'nics', exactly: { deviceClassName: 'net-a.multinic.fms.io', count: 2 } },
      ],
      constraints: [{ requests: ['gpu', 'nics'], matchAttribute: ROOT }],
    },
  };
  const run = (spec: ResourceClaimSpec, o: { nodes?: string[]; inUse?: string[] } = {}) =>
    allocateClaim({ spec, nodes: o.nodes ?? ['h1', 'h2'], slices, classes, inUse: new Set(o.inUse ?? []) });

  it.each([
    ['2 NICs: first fit on h1, in device order', { devices: nics(2) }, {}, 'h1', ['nics:eth1', 'nics:eth2']],
    ['a selector leaves out a down NIC, so 3 up NICs are on h2 only', { devices: nics(3, ['device.attributes["multinic.fms.io"].state == "up"']) }, {}, 'h2', ['nics:eth1', 'nics:eth2', 'nics:eth3']],
    ['NICs held by another claim are skipped', { devices: nics(2) }, { inUse: ['multinic.fms.io/h1/eth1', 'multinic.fms.io/h1/eth2'] }, 'h2', ['nics:eth1', 'nics:eth2']],
    ['GPUs and NICs on one PCIe root (gpu0 is on another root)', aligned, {}, 'h2', ['gpu:gpu1', 'gpu:gpu2', 'nics:eth1', 'nics:eth2']],
    ['All takes every matching NIC', { devices: { requests: [{ name: 'nics', exactly: { deviceClassName: 'net-a.multinic.fms.io', allocationMode: 'All' } }] } }, { nodes: ['h2'] }, 'h2', ['nics:eth1', 'nics:eth2', 'nics:eth3']],
  ] as const)('%s', (_name, spec, o, node, want) => {
    const r = run(spec as ResourceClaimSpec, o as { nodes?: string[]; inUse?: string[] });
    expect(r.ok && r.node).toBe(node);
    expect(r.ok && r.results.map((x) => `${x.request}:${x.device}`)).toEqual(want);
    if (r.ok) for (const x of r.results) expect(x.pool).toBe(node);
  });

  it.each([
    ['too many NICs', { devices: nics(4) }, {}, ['h1: request "nics": 3 free device(s) of DeviceClass net-a.multinic.fms.io match its selectors, 4 wanted', 'h2: request "nics": 3 free device(s)']],
    ['no PCIe root on h1 NICs, and aligned GPUs taken on h2', aligned, { inUse: ['gpu.example.com/h2/gpu1'] }, ['h1: request "gpu": 0 free device(s) of DeviceClass gpu.example.com', 'h2: no choice of devices satisfies matchAttribute resource.kubernetes.io/pcieRoot over gpu, nics']],
    ['a class that does not exist', { devices: { requests: [{ name: 'x', exactly: { deviceClassName: 'nope' } }] } }, { nodes: ['h1'] }, ['h1: request "x": DeviceClass nope not found']],
    ['a selector on a missing attribute says which', { devices: nics(1, ['device.attributes["multinic.fms.io"].rdma']) }, { nodes: ['h1'] }, ['h1: request "nics": 0 free device(s) of DeviceClass net-a.multinic.fms.io match its selectors, 1 wanted (eth1: no such key: rdma (device eth1 has no attribute multinic.fms.io/rdma)']],
    ['firstAvailable is refused by name', { devices: { requests: [{ name: 'x', firstAvailable: [] }] } }, { nodes: ['h1'] }, ['h1: request "x": only "exactly" requests are simulated by the lab scheduler (not firstAvailable)']],
  ] as const)('cannot allocate: %s', (_name, spec, o, want) => {
    const r = run(spec as ResourceClaimSpec, o as { nodes?: string[]; inUse?: string[] });
    expect(r.ok).toBe(false);
    const got = r.ok ? [] : r.reasons.map((x) => `${x.node}: ${x.reason}`);
    expect(got.length).toBe(want.length);
    want.forEach((w, i) => expect(got[i]).toContain(w));
  });

  it('names the devices without the constrained attribute', () => {
    const r = run(aligned, { nodes: ['h1'] });
    expect(r.ok).toBe(false);
    // h1 has no GPUs at all: the GPU request fails first.
    const only = allocateClaim({ spec: { devices: { ...nics(2)!, constraints: [{ matchAttribute: ROOT }] } }, nodes: ['h1'], slices, classes, inUse: new Set() });
    expect(!only.ok && only.reasons[0]?.reason).toBe('no choice of devices satisfies matchAttribute resource.kubernetes.io/pcieRoot over nics (without the attribute: multinic.fms.io/eth1, multinic.fms.io/eth2, multinic.fms.io/eth3)');
  });

  it('uses only the newest generation of a pool', () => {
    const two = [slice('multinic.fms.io', 'h1', [nic('eth1')], 1), slice('multinic.fms.io', 'h1', [nic('eth9')], 2)];
    expect(nodeDevices(two, 'h1').map((d) => d.device.name)).toEqual(['eth9']);
  });
});
