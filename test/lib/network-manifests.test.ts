// parseNetworkManifests: the one reading of -f documents plan and apply share.
import { describe, expect, it } from 'vitest';
import { parseNetworkManifests } from '../../src/lib/network.js';
import { networkDoc } from './plan/fixtures.js';

const dc = { apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'fast' }, spec: { ids: [{ vendor: '15b3', products: ['1017'] }] } };
const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } };

describe('parseNetworkManifests', () => {
  it('keeps document order across kinds and hands other kinds back unjudged', () => {
    const m = parseNetworkManifests([
      { source: 'a.yaml#1', value: dc },
      { source: 'a.yaml#2', value: networkDoc({ name: 'n1' }) },
      { source: 'a.yaml#3', value: cm },
      { source: 'b.yaml#1', value: networkDoc({ name: 'n2', subnet: '172.16.0.0/16' }) },
    ]);
    expect(m.objects.map((o) => (o.kind === 'MultiNicNetwork' ? o.network.name : o.deviceClass.metadata.name))).toEqual(['fast', 'n1', 'n2']);
    expect([m.networks.map((n) => n.name), m.deviceClasses.map((d) => d.metadata.name), m.others.map((d) => d.source)]).toEqual([['n1', 'n2'], ['fast'], ['a.yaml#3']]);
  });
  it('refuses a network name given twice, naming both documents', () => {
    expect(() => parseNetworkManifests([{ source: 'a.yaml#1', value: networkDoc() }, { source: 'b.yaml#1', value: networkDoc({ subnet: '172.16.0.0/16' }) }])).toThrow(/b\.yaml#1.*MultiNicNetwork "net" is also defined in a\.yaml#1/);
  });
  it('validates each network and DeviceClass (a bad field is named)', () => {
    expect(() => parseNetworkManifests([{ source: 'a.yaml#1', value: { ...dc, spec: { ids: 'x' } } }])).toThrow(/a\.yaml#1/);
  });
});
