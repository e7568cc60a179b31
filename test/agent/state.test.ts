import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileAgentState, parseStateDocuments, readPodFacts } from '../../src/agent/state.js';
import { stateYaml, testCidr, testNetwork } from './helpers/network.js';

const fixtures = new URL('../lib/select/fixtures/', import.meta.url);
const deviceClass = { apiVersion: 'multinic.fms.io/v1' as const, kind: 'DeviceClass' as const, metadata: { name: 'hs' }, spec: { ids: [{ vendor: '15b3', products: ['1019'] }] } };

describe('state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mnag-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('joins networks with their CIDR and reads DeviceClasses', () => {
    const s = parseStateDocuments(stateYaml([testNetwork(), testCidr(['h1']), deviceClass, testNetwork({ name: 'unplanned' })]), 'state.yaml');
    expect([...s.networks.keys()]).toEqual(['mnet', 'unplanned']);
    expect(s.networks.get('mnet')?.cidr?.spec.cidr).toHaveLength(2);
    expect(s.networks.get('unplanned')?.cidr).toBeUndefined();
    expect(Object.keys(s.classes)).toEqual(['hs']);
  });

  it('refuses the later of two networks with overlapping subnets (by name without timestamps): no CIDR, the reason', () => {
    const other = testNetwork({ name: 'other' });
    other.spec.subnet = '192.168.128.0/17';
    const s = parseStateDocuments(stateYaml([testNetwork(), testCidr(['h1']), other, testCidr(['h1'], 'other')]), 'state.yaml');
    expect(s.networks.get('mnet')).toMatchObject({ cidr: expect.any(Object) });
    expect(s.networks.get('mnet')?.refused).toBeUndefined();
    expect(s.networks.get('other')?.cidr).toBeUndefined();
    expect(s.networks.get('other')?.refused).toMatch(/^MultiNicNetwork "other": subnet 192\.168\.0\.0\/16 overlaps subnet 192\.168\.0\.0\/16 of MultiNicNetwork "mnet"/);
  });

  it.each([
    ['a foreign kind', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n', /document 1 \(Pod x\): kind must be MultiNicNetwork, CIDR or DeviceClass/],
    ['a schema violation', stateYaml([{ ...testNetwork(), spec: { ...testNetwork().spec, plugin: { cniVersion: '1.0.0', type: 'bogus' as 'macvlan' } } }]), /state.yaml: document 1 \(MultiNicNetwork mnet\): spec.plugin.type/],
    ['broken YAML', 'a: [\n', /document 1 is not valid YAML/],
  ])('rejects %s naming the document and field', (_name, text, want) => {
    expect(() => parseStateDocuments(text, 'state.yaml')).toThrow(want);
  });

  it('reloads on change (atomic rename) and notifies; a broken file keeps the previous state', async () => {
    const path = join(dir, 'state.yaml');
    writeFileSync(path, stateYaml([testNetwork()]));
    const errors: string[] = [];
    const s = await FileAgentState.open(path, { pollMs: 20, onError: (e) => errors.push(e.message) });
    let changes = 0;
    s.onChange(() => changes++);
    expect(s.network('mnet')?.cidr).toBeUndefined();
    writeFileSync(`${path}.new`, stateYaml([testNetwork(), testCidr(['h1'])]));
    renameSync(`${path}.new`, path);
    await expect.poll(() => s.network('mnet')?.cidr?.metadata.name, { timeout: 3000 }).toBe('mnet');
    expect(changes).toBe(1);
    writeFileSync(path, 'kind: Nope\n');
    await expect.poll(() => errors.length, { timeout: 3000 }).toBeGreaterThan(0);
    expect(s.network('mnet')?.cidr).toBeDefined();
    s.close();
  });

  it('a missing file is a clear error', async () => {
    await expect(FileAgentState.open(join(dir, 'none.yaml'))).rejects.toThrow(/cannot read the agent state file .*none.yaml/);
  });

  it('pod facts from the kubelet checkpoint, NVIDIA information files and the topology XML', async () => {
    const gpus = join(dir, 'gpus');
    for (const [bus, uuid] of [['0000:18:00.0', 'GPU-aaaa-0001'], ['0000:87:00.0', 'GPU-aaaa-0002']] as const) {
      mkdirSync(join(gpus, bus), { recursive: true });
      writeFileSync(join(gpus, bus, 'information'), `Model: \t A100\nGPU UUID: \t ${uuid}\nBus Location: \t ${bus}\n`);
    }
    const paths = { checkpoint: new URL('kubelet_internal_checkpoint.json', fixtures).pathname, topologyXml: new URL('virtualTopology.xml', fixtures).pathname, nvidiaGpusDir: gpus, sysfsRoot: join(dir, 'nosys') };
    expect(await readPodFacts(paths, 'pod-a', ['openshift.io/mlnx_sriov'])).toEqual({ gpuNumaNodes: [0, 1], deviceIDs: ['0000:5e:00.2'] });
    // Without the XML the GPU's own sysfs numa_node is used.
    mkdirSync(join(dir, 'sys/bus/pci/devices/0000:18:00.0'), { recursive: true });
    writeFileSync(join(dir, 'sys/bus/pci/devices/0000:18:00.0/numa_node'), '3\n');
    expect(await readPodFacts({ ...paths, topologyXml: join(dir, 'none.xml'), sysfsRoot: join(dir, 'sys') }, 'pod-a', [])).toEqual({ gpuNumaNodes: [3], deviceIDs: [] });
    expect(await readPodFacts({ ...paths, checkpoint: join(dir, 'none') }, 'pod-a', ['x'])).toEqual({ gpuNumaNodes: [], deviceIDs: [] });
    expect(readFileSync(paths.checkpoint, 'utf8')).toContain('pod-a');
  });
});
