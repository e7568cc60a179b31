// The network configuration the plugin reads on stdin, in upstream's NAD shape (upstream.md §2.5,
// §6.1), validated strictly: every rejection names the field, what was wrong and how to fix it.
// Pure: takes the stdin text and returns plain data or throws CniError.
import type { SelectionArgs } from '../agent/protocol.js';
import { CniCode, CniError } from './errors.js';
import { ifNameProblem, pluginNameProblem, socketPathProblem } from './names.js';
import { SUPPORTED_VERSIONS, isSupportedVersion } from './version.js';

/** Main plugins we can delegate to, with the modes each accepts (empty: no `mode` key). */
export const PLUGIN_MODES: Readonly<Record<string, readonly string[]>> = {
  macvlan: ['bridge', 'private', 'vepa', 'passthru'],
  ipvlan: ['l2', 'l3', 'l3s'],
  sriov: [],
  'host-device': [],
};

/** The IPAM type that means "the agent allocates for every NIC". */
export const MULTI_NIC_IPAM = 'multi-nic-ipam';

/** The main plugin block: `type` plus keys passed through to the delegate config. */
export interface PluginConf {
  type: string;
  cniVersion?: string;
  mode?: string;
  mtu?: number;
  [key: string]: unknown;
}

export interface IpamConf {
  type: string;
  [key: string]: unknown;
}

/** One entry of 1.1's `cni.dev/valid-attachments` (GC). */
export interface Attachment {
  containerID: string;
  ifname: string;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  ipam: IpamConf;
  plugin: PluginConf;
  /** true: the agent allocates every address; false: `ipam` is passed through to each delegate. */
  multiNicIpam: boolean;
  subnet?: string;
  masterNets?: string[];
  /** Pod selection from `args.cni` (Multus `cni-args`). */
  selection: SelectionArgs;
  /** Device-plugin devices (`deviceIDs`, Multus' top-level `deviceID`, `runtimeConfig.deviceID` or `pciBusID`). */
  deviceIDs?: string[];
  /** Our addition: the agent socket path for this network. */
  agentSocket?: string;
  dns?: Record<string, unknown>;
  prevResult?: Record<string, unknown>;
  validAttachments?: Attachment[];
  /** The decoded object as received, for passing keys through. */
  raw: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(msg: string, details?: string): CniError {
  return new CniError(CniCode.InvalidNetConf, msg, details);
}

function optString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${where}${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** Decodes stdin; code 6 when it is not a JSON object. */
export function decodeStdin(text: string): Record<string, unknown> {
  if (text.trim() === '') {
    throw new CniError(CniCode.Decode, 'empty network configuration on stdin', 'the runtime must pass the network configuration JSON on stdin');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(CniCode.Decode, `failed to decode network configuration: ${(e as Error).message}`, 'stdin must be one JSON object (the NetworkAttachmentDefinition config)');
  }
  if (!isObject(v)) throw new CniError(CniCode.Decode, `network configuration must be a JSON object, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v;
}

/** Checks `cniVersion` alone (code 1 when unsupported); used before anything else is trusted. */
export function checkConfVersion(raw: Record<string, unknown>): string {
  const v = raw['cniVersion'];
  if (v === undefined) throw invalid('cniVersion is missing', `set "cniVersion" to one of ${SUPPORTED_VERSIONS.join(', ')}`);
  if (typeof v !== 'string') throw invalid(`cniVersion must be a string, got ${JSON.stringify(v)}`);
  if (!isSupportedVersion(v)) {
    throw new CniError(CniCode.IncompatibleVersion, `incompatible CNI versions; config is "${v}", plugin supports [${SUPPORTED_VERSIONS.join(' ')}]`, `set "cniVersion" to one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return v;
}

function parseSelection(args: unknown): SelectionArgs {
  if (args === undefined || args === null) return {};
  if (!isObject(args)) throw invalid(`args must be an object, got ${JSON.stringify(args)}`);
  const cni = args['cni'];
  if (cni === undefined || cni === null) return {};
  if (!isObject(cni)) throw invalid(`args.cni must be an object, got ${JSON.stringify(cni)}`, 'pod annotation cni-args must be an object such as {"nics": 2}');
  const sel: SelectionArgs = {};
  if (cni['nics'] !== undefined && cni['nics'] !== null) {
    const n = cni['nics'];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
      throw invalid(`args.cni.nics must be a positive integer, got ${JSON.stringify(n)}`, 'write the number without quotes, e.g. "cni-args": {"nics": 2}');
    }
    sel.nics = n;
  }
  // Upstream code reads `masters`; its docs write `master`. Both mean the same; `masters` wins.
  const masters = cni['masters'] ?? cni['master'];
  const key = cni['masters'] !== undefined ? 'masters' : 'master';
  if (masters !== undefined && masters !== null) {
    const list = typeof masters === 'string' ? [masters] : masters;
    if (!Array.isArray(list) || list.length === 0 || !list.every((m) => typeof m === 'string' && ifNameProblem(m) === undefined)) {
      throw invalid(`args.cni.${key} must be a non-empty list of host interface names, got ${JSON.stringify(masters)}`, 'e.g. "cni-args": {"masters": ["eth1", "eth2"]}');
    }
    if (new Set(list).size !== list.length) throw invalid(`args.cni.${key} names a host interface twice: ${JSON.stringify(list)}`);
    sel.masters = list as string[];
  }
  const cls = optString(cni, 'class', 'args.cni.');
  if (cls !== undefined) {
    if (cls === '') throw invalid('args.cni.class must not be empty', 'name a DeviceClass, e.g. "cni-args": {"class": "highspeed"}');
    sel.class = cls;
  }
  const target = cni['target'];
  if (target !== undefined && target !== null) {
    if (typeof target !== 'string' && typeof target !== 'number') throw invalid(`args.cni.target must be a bandwidth such as "200Gbps", got ${JSON.stringify(target)}`);
    sel.target = String(target);
  }
  return sel;
}

function parsePlugin(v: unknown): PluginConf {
  if (v === undefined || v === null) {
    throw invalid('plugin is missing', 'the network config needs "plugin": {"type": "macvlan"|"ipvlan"|"sriov"|"host-device", ...}');
  }
  if (!isObject(v)) throw invalid(`plugin must be an object, got ${JSON.stringify(v)}`);
  const type = v['type'];
  if (typeof type !== 'string' || type === '') throw invalid('plugin.type is missing', `set plugin.type to one of ${Object.keys(PLUGIN_MODES).join(', ')}`);
  const modes = PLUGIN_MODES[type];
  if (!modes) {
    if (type === 'aws-ipvlan') throw new CniError(CniCode.UnsupportedField, 'plugin.type "aws-ipvlan" is not supported by this plugin', `use one of ${Object.keys(PLUGIN_MODES).join(', ')}`);
    throw invalid(`unknown plugin.type "${type}"`, `use one of ${Object.keys(PLUGIN_MODES).join(', ')}`);
  }
  const out: PluginConf = { ...v, type };
  const cv = optString(v, 'cniVersion', 'plugin.');
  if (cv !== undefined && cv !== '' && !isSupportedVersion(cv)) {
    throw new CniError(CniCode.IncompatibleVersion, `plugin.cniVersion "${cv}" is not supported`, `use one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const mode = optString(v, 'mode', 'plugin.');
  if (mode !== undefined && mode !== '') {
    if (modes.length === 0) throw invalid(`plugin.mode is not valid for ${type}`, `remove "mode" from the ${type} plugin block`);
    if (!modes.includes(mode)) throw invalid(`plugin.mode "${mode}" is not valid for ${type}`, `use one of ${modes.join(', ')}`);
    out.mode = mode;
  } else delete out.mode;
  const mtu = v['mtu'];
  if (mtu !== undefined && mtu !== null && mtu !== '') {
    const n = typeof mtu === 'string' && /^\d+$/.test(mtu) ? Number(mtu) : mtu;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 68 || n > 65535) throw invalid(`plugin.mtu must be an integer between 68 and 65535, got ${JSON.stringify(mtu)}`);
    out.mtu = n;
  } else delete out.mtu;
  return out;
}

function parseIpam(v: unknown, multiNicIpamFlag: unknown): { ipam: IpamConf; multiNicIpam: boolean } {
  if (multiNicIpamFlag !== undefined && multiNicIpamFlag !== null && typeof multiNicIpamFlag !== 'boolean') {
    throw invalid(`multiNICIPAM must be true or false, got ${JSON.stringify(multiNicIpamFlag)}`);
  }
  if (v === undefined || v === null) {
    if (multiNicIpamFlag === true) return { ipam: { type: MULTI_NIC_IPAM }, multiNicIpam: true };
    throw invalid('ipam is missing', `set "ipam": {"type": "${MULTI_NIC_IPAM}", ...} with "multiNICIPAM": true, or a single-NIC IPAM such as host-local`);
  }
  if (!isObject(v)) throw invalid(`ipam must be an object, got ${JSON.stringify(v)}`);
  const type = v['type'];
  if (typeof type !== 'string' || type === '') throw invalid('ipam.type is missing', `use "${MULTI_NIC_IPAM}" or a single-NIC IPAM plugin such as host-local, whereabouts or static`);
  if (type === 'multi-config') {
    throw new CniError(CniCode.UnsupportedField, 'ipam.type "multi-config" is not supported', `use "${MULTI_NIC_IPAM}" or a single-NIC IPAM plugin passed through per NIC`);
  }
  // A single-NIC IPAM type is executed (by the delegate, and by our DEL when the agent has no
  // record): it must be a bare plugin name, never a path.
  const bad = pluginNameProblem(type);
  if (bad) throw invalid(`ipam.type ${JSON.stringify(type)} ${bad}`, 'use "multi-nic-ipam" or the name of an IPAM plugin installed in the CNI bin directory, such as "host-local"');
  const isMulti = type === MULTI_NIC_IPAM;
  if (multiNicIpamFlag === true && !isMulti) {
    throw invalid(`multiNICIPAM is true but ipam.type is "${type}"`, `set ipam.type to "${MULTI_NIC_IPAM}", or drop multiNICIPAM to pass "${type}" through to each NIC`);
  }
  if (multiNicIpamFlag === false && isMulti) {
    throw invalid(`ipam.type is "${MULTI_NIC_IPAM}" but multiNICIPAM is false`, `set "multiNICIPAM": true, or use a single-NIC IPAM such as host-local`);
  }
  return { ipam: { ...v, type }, multiNicIpam: isMulti };
}

/** A device ID as device plugins hand them out (PCI address, auxiliary device name): no path characters. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

/**
 * The device-plugin devices of this attachment. Multus writes the one it got for the NAD's
 * resourceName as top-level `deviceID` (and `pciBusID`) of the delegate config
 * (https://github.com/k8snetworkplumbingwg/multus-cni/blob/master/pkg/types/conf.go,
 * delegateAddDeviceID); a runtime passing capabilities puts it in `runtimeConfig.deviceID`;
 * `deviceIDs` (a list) is ours. The first present wins, in that order: deviceIDs, deviceID,
 * runtimeConfig.deviceID, pciBusID.
 */
function parseDeviceIds(raw: Record<string, unknown>): string[] | undefined {
  const rc = isObject(raw['runtimeConfig']) ? raw['runtimeConfig'] : {};
  const sources: Array<[string, unknown]> = [
    ['deviceIDs', raw['deviceIDs']],
    ['deviceID', raw['deviceID']],
    ['runtimeConfig.deviceID', rc['deviceID']],
    ['pciBusID', raw['pciBusID']],
  ];
  const found = sources.find(([, v]) => v !== undefined && v !== null && v !== '');
  if (!found) return undefined;
  const [field, v] = found;
  const ids = field === 'deviceIDs' ? v : [v];
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((d) => typeof d === 'string' && DEVICE_ID.test(d))) {
    throw invalid(
      field === 'deviceIDs' ? `deviceIDs must be a list of PCI addresses, got ${JSON.stringify(v)}` : `${field} must be a PCI address such as "0000:3b:00.1", got ${JSON.stringify(v)}`,
      'the device plugin (via Multus) sets it; a hand-written config names devices as PCI addresses',
    );
  }
  return ids as string[];
}

function parseValidAttachments(raw: Record<string, unknown>): Attachment[] | undefined {
  const v = raw['cni.dev/valid-attachments'];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalid(`cni.dev/valid-attachments must be a list, got ${JSON.stringify(v)}`);
  return v.map((a, i) => {
    if (!isObject(a) || typeof a['containerID'] !== 'string' || typeof a['ifname'] !== 'string') {
      throw invalid(`cni.dev/valid-attachments[${i}] must be {"containerID": string, "ifname": string}, got ${JSON.stringify(a)}`);
    }
    return { containerID: a['containerID'], ifname: a['ifname'] };
  });
}

/**
 * Parses and validates the network configuration text. Throws CniError with code 6 (not JSON),
 * 1 (unsupported cniVersion), 2 (known but unsupported feature) or 7 (invalid value).
 */
export function parseNetConf(text: string): NetConf {
  const raw = decodeStdin(text);
  const cniVersion = checkConfVersion(raw);
  const name = raw['name'];
  if (typeof name !== 'string' || name === '') throw invalid('name is missing', 'set "name" to the network (MultiNicNetwork) name');
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) {
    throw invalid(`name "${name}" is not a valid network name`, 'use a Kubernetes resource name: lowercase letters, digits, "-" and "."');
  }
  const type = optString(raw, 'type', '') ?? '';
  if (type === '') throw invalid('type is missing', 'set "type": "multi-nic"');
  const plugin = parsePlugin(raw['plugin']);
  const { ipam, multiNicIpam } = parseIpam(raw['ipam'], raw['multiNICIPAM']);
  const conf: NetConf = { cniVersion, name, type, ipam, plugin, multiNicIpam, selection: parseSelection(raw['args']), raw };
  const subnet = optString(raw, 'subnet', '');
  if (subnet) conf.subnet = subnet;
  const mn = raw['masterNets'];
  if (mn !== undefined && mn !== null) {
    if (!Array.isArray(mn) || !mn.every((m) => typeof m === 'string')) throw invalid(`masterNets must be a list of CIDRs, got ${JSON.stringify(mn)}`);
    conf.masterNets = mn as string[];
  }
  const deviceIDs = parseDeviceIds(raw);
  if (deviceIDs) conf.deviceIDs = deviceIDs;
  const sock = optString(raw, 'agentSocket', '');
  if (sock !== undefined && sock !== '') {
    const bad = socketPathProblem(sock);
    if (bad) throw invalid(`agentSocket ${bad}, got ${JSON.stringify(sock)}`, 'set agentSocket to the agent\'s socket, e.g. "/run/multinic/agent.sock", or drop it');
    conf.agentSocket = sock;
  }
  if (isObject(raw['dns'])) conf.dns = raw['dns'];
  const prev = raw['prevResult'];
  if (prev !== undefined && prev !== null) {
    if (!isObject(prev)) throw new CniError(CniCode.Decode, `prevResult must be an object, got ${JSON.stringify(prev)}`);
    conf.prevResult = prev;
  }
  const va = parseValidAttachments(raw);
  if (va) conf.validAttachments = va;
  // daemonIP / daemonPort (upstream's TCP daemon) are accepted and ignored: we talk over a unix socket.
  return conf;
}

/** The K8S_* keys of CNI_ARGS that identify the pod. */
export interface K8sArgs {
  namespace: string;
  name: string;
  uid: string;
  infraContainerID: string;
}

/** Parses CNI_ARGS (`K=V;K=V`); code 4 for a pair without `=`. Unknown keys are ignored. */
export function parseCniArgs(text: string | undefined): K8sArgs {
  const out: K8sArgs = { namespace: '', name: '', uid: '', infraContainerID: '' };
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CniError(CniCode.InvalidEnv, `CNI_ARGS: invalid pair "${pair}"`, 'CNI_ARGS must be KEY=VALUE pairs separated by ";"');
    const k = pair.slice(0, eq);
    const v = pair.slice(eq + 1);
    if (k === 'K8S_POD_NAMESPACE') out.namespace = v;
    else if (k === 'K8S_POD_NAME') out.name = v;
    else if (k === 'K8S_POD_UID') out.uid = v;
    else if (k === 'K8S_POD_INFRA_CONTAINER_ID') out.infraContainerID = v;
  }
  return out;
}
