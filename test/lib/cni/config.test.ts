import { describe, expect, it } from 'vitest';
import { parseCniArgs, parseNetConf } from '../../../src/lib/cni/config.js';
import { CniError } from '../../../src/lib/cni/errors.js';

// The NAD config upstream's controller generates (upstream.md §2.5), verbatim.
const upstreamNad =
  '{"cniVersion":"0.3.0","name":"multinic-ipvlanl3","type":"multi-nic","ipam":{"hostBlock":8,"interfaceBlock":2,"type":"multi-nic-ipam","vlanMode":"l3"},"dns":{},"plugin":{"cniVersion":"0.3.0","mode":"l3","type":"ipvlan"},"subnet":"192.168.0.0/16","masterNets":["10.0.1.0/24","10.0.2.0/24"],"multiNICIPAM":true,"daemonIP":"","daemonPort":11000}';

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CniError ? e.code : -1;
  }
  return undefined;
}

describe('parseNetConf', () => {
  it('reads the config upstream generates, ignoring daemonIP/daemonPort', () => {
    const c = parseNetConf(upstreamNad);
    expect(c).toMatchObject({
      cniVersion: '0.3.0',
      name: 'multinic-ipvlanl3',
      type: 'multi-nic',
      multiNicIpam: true,
      plugin: { type: 'ipvlan', mode: 'l3', cniVersion: '0.3.0' },
      ipam: { type: 'multi-nic-ipam', vlanMode: 'l3' },
      subnet: '192.168.0.0/16',
      masterNets: ['10.0.1.0/24', '10.0.2.0/24'],
      selection: {},
    });
  });

  it('treats ipam.type multi-nic-ipam as multi-NIC IPAM even when multiNICIPAM is omitted', () => {
    const raw = JSON.parse(upstreamNad) as Record<string, unknown>;
    delete raw['multiNICIPAM'];
    expect(parseNetConf(JSON.stringify(raw)).multiNicIpam).toBe(true);
  });

  it('passes a single-NIC IPAM through when multiNICIPAM is absent', () => {
    const raw = { ...JSON.parse(upstreamNad), ipam: { type: 'whereabouts', range: '10.9.0.0/24' } } as Record<string, unknown>;
    delete raw['multiNICIPAM'];
    const c = parseNetConf(JSON.stringify(raw));
    expect(c.multiNicIpam).toBe(false);
    expect(c.ipam).toEqual({ type: 'whereabouts', range: '10.9.0.0/24' });
  });

  it.each([
    [{ nics: 2 }, { nics: 2 }],
    [{ masters: ['eth1', 'eth2'] }, { masters: ['eth1', 'eth2'] }],
    [{ master: ['eth1'] }, { masters: ['eth1'] }],
    [{ master: 'eth1' }, { masters: ['eth1'] }],
    [{ masters: ['eth2'], master: ['eth1'] }, { masters: ['eth2'] }],
    [{ class: 'highspeed', nics: 1 }, { class: 'highspeed', nics: 1 }],
    [{ target: '200Gbps' }, { target: '200Gbps' }],
    [{ unrelated: true }, {}],
  ])('args.cni %j selects %j', (cni, want) => {
    const c = parseNetConf(JSON.stringify({ ...JSON.parse(upstreamNad), args: { cni } }));
    expect(c.selection).toEqual(want);
  });

  it('coerces a numeric-string mtu and drops empty mode/mtu (upstream RemoveEmpty leaves "")', () => {
    const c = parseNetConf(JSON.stringify({ ...JSON.parse(upstreamNad), plugin: { type: 'macvlan', mode: '', mtu: '9000' } }));
    expect(c.plugin).toEqual({ type: 'macvlan', mtu: 9000 });
    const d = parseNetConf(JSON.stringify({ ...JSON.parse(upstreamNad), plugin: { type: 'macvlan', mtu: '' } }));
    expect(d.plugin).toEqual({ type: 'macvlan' });
  });

  it('takes the device ID from runtimeConfig when deviceIDs is absent', () => {
    const c = parseNetConf(JSON.stringify({ ...JSON.parse(upstreamNad), runtimeConfig: { deviceID: '0000:3b:00.2' } }));
    expect(c.deviceIDs).toEqual(['0000:3b:00.2']);
  });

  // Multus puts the device plugin's device at the top level of the delegate config as deviceID
  // (and pciBusID); deviceIDs (ours) beats deviceID beats runtimeConfig.deviceID beats pciBusID.
  it.each([
    ['Multus top-level deviceID', { deviceID: '0000:3b:00.3' }, ['0000:3b:00.3']],
    ['Multus deviceID and pciBusID', { deviceID: '0000:3b:00.3', pciBusID: '0000:3b:00.3' }, ['0000:3b:00.3']],
    ['pciBusID alone', { pciBusID: '0000:3b:00.4' }, ['0000:3b:00.4']],
    ['deviceID over runtimeConfig.deviceID', { deviceID: '0000:3b:00.3', runtimeConfig: { deviceID: '0000:3b:00.2' } }, ['0000:3b:00.3']],
    ['deviceIDs over deviceID', { deviceIDs: ['0000:3b:00.5', '0000:3b:00.6'], deviceID: '0000:3b:00.3' }, ['0000:3b:00.5', '0000:3b:00.6']],
    ['an empty deviceID is absent', { deviceID: '', runtimeConfig: { deviceID: '0000:3b:00.2' } }, ['0000:3b:00.2']],
    ['none', {}, undefined],
  ])('device IDs: %s', (_n, over, want) => {
    expect(parseNetConf(JSON.stringify({ ...JSON.parse(upstreamNad), ...over })).deviceIDs).toEqual(want);
  });

  it.each([
    ['not JSON', 'nope', 6],
    ['cniVersion 0.2.0', { cniVersion: '0.2.0' }, 1],
    ['host-device with a mode', { plugin: { type: 'host-device', mode: 'l2' } }, 7],
    ['ipvlan mode bridge', { plugin: { type: 'ipvlan', mode: 'bridge' } }, 7],
    ['mtu 10', { plugin: { type: 'ipvlan', mtu: 10 } }, 7],
    ['type missing', { type: '' }, 7],
    ['ipam.type missing', { ipam: {} }, 7],
    ['multi-nic-ipam with multiNICIPAM false', { multiNICIPAM: false }, 7],
    ['class empty', { args: { cni: { class: '' } } }, 7],
    ['target an object', { args: { cni: { target: {} } } }, 7],
    ['masterNets a string', { masterNets: '10.0.1.0/24' }, 7],
    ['deviceID a number', { deviceID: 3 }, 7],
    ['deviceID a path', { deviceID: '/sys/bus/pci/devices/x' }, 7],
    ['runtimeConfig.deviceID with a space', { runtimeConfig: { deviceID: '0000:3b:00.2 x' } }, 7],
    ['ipam.type with a slash', { ipam: { type: 'bin/host-local' }, multiNICIPAM: undefined }, 7],
    ['ipam.type ".."', { ipam: { type: '..' }, multiNICIPAM: undefined }, 7],
    ['agentSocket with a trailing slash', { agentSocket: '/run/multinic/' }, 7],
    ['agentSocket with "//"', { agentSocket: '/run//agent.sock' }, 7],
    ['masters with ":"', { args: { cni: { masters: ['eth1:1'] } } }, 7],
  ])('rejects %s with code %i', (_n, over, code) => {
    const text = typeof over === 'string' ? over : JSON.stringify({ ...JSON.parse(upstreamNad), ...over });
    expect(codeOf(() => parseNetConf(text))).toBe(code);
  });
});

describe('parseCniArgs', () => {
  it('reads the K8S_* keys and ignores others', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1')).toEqual({
      namespace: 'ns',
      name: 'web-0',
      uid: 'u-1',
      infraContainerID: 'abc',
    });
  });
  it('keeps "=" inside values and tolerates empty segments', () => {
    expect(parseCniArgs('K8S_POD_NAME=a=b;;').name).toBe('a=b');
  });
  it.each(['K8S_POD_NAME', '=x'])('rejects "%s" with code 4', (t) => {
    expect(codeOf(() => parseCniArgs(t))).toBe(4);
  });
  it('is empty for an absent CNI_ARGS', () => {
    expect(parseCniArgs(undefined)).toEqual({ namespace: '', name: '', uid: '', infraContainerID: '' });
  });
});
