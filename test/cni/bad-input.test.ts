// Bad input, table-driven, through the BUILT executable as a runtime runs it: every row must print
// a CNI error object with the right code and an actionable message, exit non-zero, and leave the
// agent's allocations exactly as they were (the fake agent records every call).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, type FakeNetwork } from '../fakes/agent-server.js';
import { isBuilt, nadConfig, notBuiltReason, runPlugin } from './harness.js';

const macvlan = { type: 'macvlan', cniVersion: '0.3.0', args: { mode: 'bridge' } };
const networks: FakeNetwork[] = [
  {
    name: 'mnet',
    plugin: macvlan,
    vlanMode: 'l3',
    nics: [
      { master: 'eth1', netAddress: '10.0.1.0/24', vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.64/26', classes: ['fast'] },
      { master: 'eth2', netAddress: '10.0.2.0/24', vlanCIDR: '192.168.64.0/18', podCIDR: '192.168.64.64/26' },
    ],
  },
  // A /31 pod block has no usable address: every allocation finds the pool exhausted.
  { name: 'mnet-full', plugin: macvlan, vlanMode: 'l2', nics: [{ master: 'eth1', netAddress: '10.0.1.0/24', vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.64/31' }] },
];

interface Row {
  name: string;
  command?: string;
  stdin?: unknown;
  env?: Record<string, string | undefined>;
  code: number;
  msg: RegExp;
  /** Whether the plugin may have called the agent (it must still leave no allocation). */
  callsAgent?: boolean;
  /** Replace every agent answer (e.g. NotReady). */
  agentOverride?: { status: number; body: unknown };
}

const conf = (over: Record<string, unknown> = {}) => nadConfig(over);
const withArgs = (cni: Record<string, unknown>) => conf({ args: { cni } });

const rows: Row[] = [
  { name: 'malformed stdin', stdin: '{"cniVersion": "1.0.0",', code: 6, msg: /^failed to decode network configuration/ },
  { name: 'empty stdin', stdin: '', code: 6, msg: /^empty network configuration on stdin$/ },
  { name: 'stdin is a JSON array', stdin: '[1,2]', code: 6, msg: /must be a JSON object, got an array/ },
  { name: 'stdin is a JSON string', stdin: '"multi-nic"', code: 6, msg: /must be a JSON object, got string/ },
  { name: 'missing CNI_COMMAND', command: '', code: 4, msg: /required env variables \[CNI_COMMAND\] missing/ },
  { name: 'unknown CNI_COMMAND', command: 'FOO', code: 4, msg: /^unknown CNI_COMMAND: FOO$/ },
  { name: 'missing CNI_NETNS on ADD', env: { CNI_NETNS: undefined }, code: 4, msg: /required env variables \[CNI_NETNS\] missing/ },
  { name: 'missing CNI_CONTAINERID', env: { CNI_CONTAINERID: undefined }, code: 4, msg: /\[CNI_CONTAINERID\] missing/ },
  { name: 'missing CNI_IFNAME and CNI_PATH', env: { CNI_IFNAME: undefined, CNI_PATH: undefined }, code: 4, msg: /\[CNI_IFNAME CNI_PATH\] missing/ },
  { name: 'invalid container ID', env: { CNI_CONTAINERID: '../etc' }, code: 4, msg: /invalid characters in CNI_CONTAINERID/ },
  { name: 'CNI_IFNAME longer than 15', env: { CNI_IFNAME: 'averyveryverylong' }, code: 4, msg: /^CNI_IFNAME "averyveryverylong" is 17 bytes long \(Linux allows 15\)$/ },
  { name: 'CNI_IFNAME of 9 characters but 18 bytes', env: { CNI_IFNAME: 'ñéñéñéñéü' }, code: 4, msg: /^CNI_IFNAME "ñéñéñéñéü" is 18 bytes long \(Linux allows 15\)$/ },
  { name: 'CNI_IFNAME ".."', env: { CNI_IFNAME: '..' }, code: 4, msg: /^CNI_IFNAME "\.\." is not a valid interface name/ },
  { name: 'CNI_IFNAME with a slash', env: { CNI_IFNAME: 'a/b' }, code: 4, msg: /^CNI_IFNAME "a\/b" is not a valid interface name \(no "\/"/ },
  { name: 'CNI_IFNAME with a tab', env: { CNI_IFNAME: 'a\tb' }, code: 4, msg: /^CNI_IFNAME "a\\tb" is not a valid interface name/ },
  { name: 'CNI_NETNS relative', env: { CNI_NETNS: 'run/netns/x' }, code: 4, msg: /^CNI_NETNS "run\/netns\/x" is not an absolute path$/ },
  { name: 'CNI_PATH with a relative entry', env: { CNI_PATH: '/usr/lib/cni:.' }, code: 4, msg: /^CNI_PATH entry "\." is not an absolute directory$/ },
  { name: 'ipam.type a path', stdin: conf({ multiNICIPAM: undefined, ipam: { type: '../../../tmp/x.sh' } }), code: 7, msg: /^ipam\.type "\.\.\/\.\.\/\.\.\/tmp\/x\.sh" is not a plugin name/ },
  { name: 'ipam.type "."', stdin: conf({ multiNICIPAM: undefined, ipam: { type: '.' } }), code: 7, msg: /^ipam\.type "\." is not a plugin name/ },
  { name: 'agentSocket with ".."', stdin: conf({ agentSocket: '/run/multinic/../../tmp/evil.sock' }), code: 7, msg: /^agentSocket must be a normal absolute path \(no "\." or "\.\." segments/ },
  { name: 'masters naming ".."', stdin: withArgs({ masters: ['..'] }), code: 7, msg: /args.cni.masters must be a non-empty list of host interface names/ },
  { name: 'masters longer than 15 bytes', stdin: withArgs({ masters: ['eth1234567890123'] }), code: 7, msg: /args.cni.masters must be a non-empty list of host interface names/ },
  { name: 'Multus deviceID with a path', stdin: conf({ deviceID: '../../sys/x' }), code: 7, msg: /^deviceID must be a PCI address such as "0000:3b:00.1", got "..\/..\/sys\/x"$/ },
  { name: 'CNI_IFNAME leaves no room for -<i>', env: { CNI_IFNAME: 'abcdefghijklmn' }, code: 4, msg: /pod interface "abcdefghijklmn-0" exceeds 15 characters/ },
  { name: 'malformed CNI_ARGS', env: { CNI_ARGS: 'K8S_POD_NAME' }, code: 4, msg: /CNI_ARGS: invalid pair "K8S_POD_NAME"/ },
  { name: 'CNI_NETNS does not exist', env: { CNI_NETNS: '/run/netns/mncni-absent' }, code: 3, msg: /network namespace \/run\/netns\/mncni-absent does not exist/ },
  { name: 'cniVersion 9.9.9', stdin: conf({ cniVersion: '9.9.9' }), code: 1, msg: /incompatible CNI versions; config is "9.9.9", plugin supports \[0\.3\.0 .*1\.1\.0\]/ },
  { name: 'cniVersion missing', stdin: conf({ cniVersion: undefined }), code: 7, msg: /^cniVersion is missing$/ },
  { name: 'cniVersion not a string', stdin: conf({ cniVersion: 1 }), code: 7, msg: /cniVersion must be a string/ },
  { name: 'name missing', stdin: conf({ name: undefined }), code: 7, msg: /^name is missing$/ },
  { name: 'name not a resource name', stdin: conf({ name: 'Bad_Name' }), code: 7, msg: /name "Bad_Name" is not a valid network name/ },
  { name: 'plugin missing', stdin: conf({ plugin: undefined }), code: 7, msg: /^plugin is missing$/ },
  { name: 'unknown plugin type', stdin: conf({ plugin: { type: 'bridge' } }), code: 7, msg: /^unknown plugin.type "bridge"$/ },
  { name: 'plugin type aws-ipvlan (unsupported)', stdin: conf({ plugin: { type: 'aws-ipvlan' } }), code: 2, msg: /aws-ipvlan" is not supported/ },
  { name: 'macvlan mode l3', stdin: conf({ plugin: { type: 'macvlan', mode: 'l3' } }), code: 7, msg: /plugin.mode "l3" is not valid for macvlan/ },
  { name: 'mtu not a number', stdin: conf({ plugin: { type: 'macvlan', mtu: 'abc' } }), code: 7, msg: /plugin.mtu must be an integer between 68 and 65535/ },
  { name: 'plugin cniVersion 2.0.0', stdin: conf({ plugin: { type: 'macvlan', cniVersion: '2.0.0' } }), code: 1, msg: /plugin.cniVersion "2.0.0" is not supported/ },
  { name: 'ipam missing without multiNICIPAM', stdin: conf({ ipam: undefined, multiNICIPAM: undefined }), code: 7, msg: /^ipam is missing$/ },
  { name: 'ipam multi-config (unsupported)', stdin: conf({ ipam: { type: 'multi-config' }, multiNICIPAM: undefined }), code: 2, msg: /multi-config" is not supported/ },
  { name: 'multiNICIPAM with host-local', stdin: conf({ ipam: { type: 'host-local' } }), code: 7, msg: /multiNICIPAM is true but ipam.type is "host-local"/ },
  { name: 'multiNICIPAM not a boolean', stdin: conf({ multiNICIPAM: 'yes' }), code: 7, msg: /multiNICIPAM must be true or false/ },
  { name: 'nics zero', stdin: withArgs({ nics: 0 }), code: 7, msg: /args.cni.nics must be a positive integer, got 0/ },
  { name: 'nics as a string', stdin: withArgs({ nics: '2' }), code: 7, msg: /args.cni.nics must be a positive integer, got "2"/ },
  { name: 'nics fractional', stdin: withArgs({ nics: 1.5 }), code: 7, msg: /positive integer, got 1.5/ },
  { name: 'masters empty list', stdin: withArgs({ masters: [] }), code: 7, msg: /args.cni.masters must be a non-empty list of host interface names/ },
  { name: 'masters not names', stdin: withArgs({ masters: [1, 2] }), code: 7, msg: /args.cni.masters must be a non-empty list/ },
  { name: 'master (doc spelling) with a bad name', stdin: withArgs({ master: ['eth 1'] }), code: 7, msg: /args.cni.master must be a non-empty list/ },
  { name: 'masters twice the same', stdin: withArgs({ masters: ['eth1', 'eth1'] }), code: 7, msg: /names a host interface twice/ },
  { name: 'args.cni not an object', stdin: conf({ args: { cni: 'nics=2' } }), code: 7, msg: /args.cni must be an object/ },
  { name: 'agentSocket relative', stdin: conf({ agentSocket: 'agent.sock' }), code: 7, msg: /agentSocket must be an absolute path/ },
  { name: 'prevResult not an object', stdin: conf({ prevResult: 'x' }), code: 6, msg: /prevResult must be an object/ },
  { name: 'deviceIDs not a list', stdin: conf({ deviceIDs: '0000:3b:00.1' }), code: 7, msg: /deviceIDs must be a list of PCI addresses/ },
  { name: 'masters naming absent NICs', stdin: withArgs({ masters: ['eth1', 'eth7'] }), code: 101, msg: /agent: host NIC eth7 not in network "mnet" on this node \(has eth1, eth2\)/, callsAgent: true },
  { name: 'nics larger than the pool', stdin: withArgs({ nics: 3 }), code: 101, msg: /3 NICs requested but network "mnet" has 2/, callsAgent: true },
  { name: 'unknown device class', stdin: withArgs({ class: 'slow' }), code: 103, msg: /DeviceClass "slow" not found/, callsAgent: true },
  { name: 'unknown network', stdin: conf({ name: 'nosuchnet' }), code: 104, msg: /network "nosuchnet" is not known on this node/, callsAgent: true },
  { name: 'pool exhausted', stdin: conf({ name: 'mnet-full' }), code: 102, msg: /pool mnet-full-192.168.0.64\/31 \(eth1\) has no free address/, callsAgent: true },
  { name: 'agent not ready', code: 11, msg: /agent: agent is starting/, callsAgent: true, agentOverride: { status: 503, body: { apiVersion: 'v1', code: 'NotReady', message: 'agent is starting' } } },
  { name: 'agent internal error', code: 100, msg: /agent: journal write failed/, callsAgent: true, agentOverride: { status: 500, body: { apiVersion: 'v1', code: 'Internal', message: 'journal write failed' } } },
  { name: 'agent socket missing', env: { MULTINIC_AGENT_SOCKET: '/run/mncni-absent/agent.sock' }, code: 11, msg: /agent socket \/run\/mncni-absent\/agent.sock missing: is the multinic agent running on this node\?/ },
  { name: 'delegate plugin absent from CNI_PATH', env: { CNI_PATH: '/nonexistent-cni' }, code: 105, msg: /failed to add NIC 1 \(eth1 -> net1-0\) with macvlan: failed to find plugin "macvlan" in CNI_PATH \[\/nonexistent-cni\]; rolled back 0 interfaces and 2 addresses/, callsAgent: true },
  { name: 'CHECK on cniVersion 0.3.1', command: 'CHECK', stdin: conf({ cniVersion: '0.3.1' }), code: 1, msg: /config version "0.3.1" does not allow CHECK/ },
  { name: 'CHECK without prevResult', command: 'CHECK', code: 7, msg: /prevResult is required for CHECK/ },
  { name: 'STATUS on cniVersion 1.0.0', command: 'STATUS', code: 1, msg: /config version "1.0.0" does not allow STATUS/ },
  { name: 'STATUS with the agent down', command: 'STATUS', stdin: conf({ cniVersion: '1.1.0' }), env: { MULTINIC_AGENT_SOCKET: '/run/mncni-absent/agent.sock' }, code: 50, msg: /plugin not available: agent socket \/run\/mncni-absent\/agent.sock missing/ },
  { name: 'DEL with MULTINIC_AGENT_WAIT_MS not a number of milliseconds', command: 'DEL', env: { MULTINIC_AGENT_WAIT_MS: 'soon' }, code: 4, msg: /MULTINIC_AGENT_WAIT_MS "soon" is not a number of milliseconds from 0 to 600000/ },
  { name: 'GC with malformed valid-attachments', command: 'GC', stdin: conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'a' }] }), code: 7, msg: /valid-attachments\[0\] must be/ },
];

describe.skipIf(!isBuilt)(`multi-nic rejects bad input cleanly ${isBuilt ? '' : notBuiltReason}`, () => {
  let dir: string;
  let agent: FakeAgent;
  let netnsFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mncni-bad-'));
    agent = await new FakeAgent(join(dir, 'agent.sock'), networks).start();
    // ADD only checks that CNI_NETNS exists before asking the agent; a plain file stands in.
    netnsFile = join(dir, 'netns');
    writeFileSync(netnsFile, '');
  });
  afterAll(async () => {
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has at least 30 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const before = agent.holdings();
    const callsBefore = agent.calls.length;
    agent.override = row.agentOverride;
    try {
      const run = await runPlugin({
        command: row.command ?? 'ADD',
        stdin: row.stdin ?? conf(),
        env: {
          CNI_CONTAINERID: 'ctr-bad-input',
          CNI_NETNS: netnsFile,
          CNI_IFNAME: 'net1',
          CNI_PATH: '/usr/lib/cni',
          CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=u1',
          MULTINIC_AGENT_SOCKET: join(dir, 'agent.sock'),
          ...row.env,
        },
      });
      expect(run.code, run.stdout + run.stderr).toBe(1);
      expect(run.json, run.stdout).toBeDefined();
      expect(Object.keys(run.json ?? {}).filter((k) => k !== 'details').sort()).toEqual(['cniVersion', 'code', 'msg']);
      expect(run.json?.['code'], run.stdout).toBe(row.code);
      expect(String(run.json?.['msg'])).toMatch(row.msg);
      expect(agent.holdings()).toEqual(before);
      if (!row.callsAgent) expect(agent.calls.length - callsBefore).toBe(0);
    } finally {
      agent.override = undefined;
    }
  });
});
