import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gpuNumaNodes, normalizePci, parseKubeletCheckpoint, parseNvidiaGpuInformation, parseTopologyXml, podDevices } from '../../../src/lib/select/topology.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('kubelet checkpoint', () => {
  const entries = parseKubeletCheckpoint(fixture('kubelet_internal_checkpoint.json'));

  it('reads both DeviceIDs shapes (NUMA map and plain list)', () => {
    expect(entries.map((e) => [e.podUID, e.resourceName, e.deviceIDs])).toEqual([
      ['pod-a', 'nvidia.com/gpu', ['GPU-aaaa-0001', 'GPU-aaaa-0002']],
      ['pod-a', 'openshift.io/mlnx_sriov', ['0000:5e:00.2']],
      ['pod-b', 'nvidia.com/gpu', ['GPU-bbbb-0003']],
      ['pod-c', 'nvidia.com/gpu', ['0000:af:00.0']],
    ]);
    expect(entries[0]?.numaByDevice).toEqual({});
    expect(entries[2]?.numaByDevice).toEqual({ 'GPU-bbbb-0003': 1 });
  });

  it('lists a pod device-plugin devices per resource', () => {
    expect(podDevices(entries, 'pod-a', ['openshift.io/mlnx_sriov'])).toEqual(['0000:5e:00.2']);
    expect(podDevices(entries, 'pod-a', ['other'])).toEqual([]);
    expect(podDevices(entries, 'nobody', ['nvidia.com/gpu'])).toEqual([]);
  });

  it('rejects text that is not JSON and tolerates an empty checkpoint', () => {
    expect(() => parseKubeletCheckpoint('{')).toThrow(/not JSON/);
    expect(parseKubeletCheckpoint('{"Data":{}}')).toEqual([]);
  });
});

describe('topology XML', () => {
  it('maps every pci element at any depth to its cpu numaid, bus ids normalised', () => {
    expect(parseTopologyXml(fixture('virtualTopology.xml'))).toEqual({
      '0000:17:00.0': 0,
      '0000:18:00.0': 0,
      '0000:3b:00.0': 0,
      '0000:86:00.0': 1,
      '0000:87:00.0': 1,
      '0000:af:00.0': 1,
    });
  });
});

describe('GPU NUMA nodes of a pod', () => {
  const entries = parseKubeletCheckpoint(fixture('kubelet_internal_checkpoint.json'));
  const busToNuma = parseTopologyXml(fixture('virtualTopology.xml'));
  const uuidToBus = { 'GPU-aaaa-0001': '0000:18:00.0', 'GPU-aaaa-0002': '0000:87:00.0' };
  it.each([
    ['UUIDs via the bus map and the XML', 'pod-a', [0, 1]],
    ['the checkpoint NUMA key wins', 'pod-b', [1]],
    ['a PCI device ID looked up directly', 'pod-c', [1]],
    ['no GPUs', 'pod-x', []],
  ])('%s', (_name, pod, want) => {
    expect(gpuNumaNodes({ entries, podUID: pod, uuidToBus, busToNuma })).toEqual(want);
  });
});

describe('PCI address and nvidia information parsing', () => {
  it.each([
    ['00000000:3B:00.0', '0000:3b:00.0'],
    ['0000:3b:00.0', '0000:3b:00.0'],
    ['3b:00.0', '0000:3b:00.0'],
    ['0001:af:00.7', '0001:af:00.7'],
  ])('%s → %s', (input, want) => expect(normalizePci(input)).toBe(want));

  it('reads UUID and bus from /proc/driver/nvidia/gpus/*/information', () => {
    const text = 'Model: \t\t NVIDIA A100-SXM4-80GB\nIRQ:   \t\t 140\nGPU UUID: \t GPU-aaaa-0001\nVideo BIOS: \t 92.00.36.00.01\nBus Type: \t PCIe\nBus Location: \t 0000:18:00.0\n';
    expect(parseNvidiaGpuInformation(text)).toEqual({ uuid: 'GPU-aaaa-0001', bus: '0000:18:00.0' });
    expect(parseNvidiaGpuInformation('Model: x\n')).toBeUndefined();
  });
});
