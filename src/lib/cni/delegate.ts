// Per-NIC delegate configurations: what the real main plugin (macvlan, ipvlan, sriov, host-device)
// receives for one pod NIC. Pure.
import type { AllocateResponse, AllocatedNic } from '../agent/protocol.js';
import { CniCode, CniError } from './errors.js';
import type { NetConf } from './config.js';
import { MAX_IFNAME_BYTES, ifNameProblem } from './names.js';
import { formatResult, nicRoutes, type CniResult } from './result.js';

/** Linux limit on interface names in bytes (IFNAMSIZ - 1). */
export const MAX_IFNAME = MAX_IFNAME_BYTES;

/** The pod interface of NIC `index`: `<ifName>-<index>` (net1-0, net1-1, ...), upstream's naming. */
export function podInterfaceName(ifName: string, index: number): string {
  return `${ifName}-${index}`;
}

/** Rejects a CNI_IFNAME whose per-NIC names (`<ifName>-<n-1>`) would not fit the kernel's limit. */
export function checkIfName(ifName: string, nicCount: number): void {
  const longest = podInterfaceName(ifName, Math.max(0, nicCount - 1));
  if (ifNameProblem(longest) !== undefined) {
    throw new CniError(CniCode.InvalidEnv, `CNI_IFNAME "${ifName}" is too long: pod interface "${longest}" exceeds ${MAX_IFNAME} characters`, 'use a shorter interface name in the pod network annotation (e.g. net1)');
  }
}

const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/**
 * Checks the names in the agent's answer before any reaches a delegate config or `ip`: each pod
 * interface must be `<ifName>-<index>`, each master a Linux interface name, each PCI address in
 * domain:bus:device.function form (sriov and host-device build /sys paths from it).
 */
export function checkAllocatedNics(ifName: string, nics: readonly AllocatedNic[]): void {
  for (const nic of nics) {
    const want = podInterfaceName(ifName, nic.index);
    const problems: string[] = [];
    if (!Number.isInteger(nic.index) || nic.index < 0) problems.push(`index ${JSON.stringify(nic.index)} is not a NIC position`);
    else if (nic.podInterface && nic.podInterface !== want) problems.push(`pod interface ${JSON.stringify(nic.podInterface)} is not "${want}"`);
    const masterBad = nic.master === '' ? undefined : ifNameProblem(nic.master);
    if (masterBad) problems.push(`master ${JSON.stringify(nic.master)} ${masterBad}`);
    if (nic.pciAddress !== undefined && !PCI_ADDRESS.test(nic.pciAddress)) problems.push(`PCI address ${JSON.stringify(nic.pciAddress)} is not of the form 0000:3b:00.1`);
    if (problems.length > 0) {
      throw new CniError(CniCode.AgentFailed, `agent answered an unusable NIC ${JSON.stringify(nic.index)}: ${problems.join('; ')}`, 'the agent and the plugin disagree on the protocol: install matching versions');
    }
  }
}

/**
 * The delegate comes from the runtime's config (the NAD), which DEL and CHECK also have without the
 * agent; the agent shaped the addresses for its network's `plugin.type` and `vlanMode` (the shim
 * gateway and routes of macvlan L3). An ADD whose two disagree (a NAD older than its
 * MultiNicNetwork, or edited by hand) would give the pod addresses made for another plugin: it is
 * refused as transient, the runtime retries once the agent has written the NAD again.
 */
export function checkAnswerPlugin(conf: NetConf, answer: Pick<AllocateResponse, 'plugin' | 'vlanMode'>): void {
  if (answer.plugin.type === conf.plugin.type) return;
  const mode = answer.vlanMode ? ` vlanMode ${answer.vlanMode}` : '';
  throw new CniError(
    CniCode.TryAgainLater,
    `network "${conf.name}": the config delegates to ${conf.plugin.type} but the agent allocated for ${answer.plugin.type}${mode}`,
    `the NetworkAttachmentDefinition "${conf.name}" is older than its MultiNicNetwork or was edited by hand: the leader agent writes it again from the network (\`kubectl multinic doctor\` names a NAD that differs), then the runtime's retry succeeds`,
  );
}

/**
 * The delegate config for one NIC. With multi-NIC IPAM the NIC's address, gateway and routes go in
 * as static IPAM; otherwise (`nic.address` empty) the network's own single-NIC IPAM is passed
 * through, as upstream does. The delegate runs in the network's cniVersion so its result needs no
 * conversion. `prevResult` is set for CHECK and DEL. With `noStaticIpam` a NIC with a multi-NIC
 * IPAM address gets no `ipam` at all: the delegate only deletes the link (macvlan DEL; static's
 * DEL does nothing, so a DEL without it is the same DEL with one exec less).
 */
export function delegateConfig(conf: NetConf, nic: AllocatedNic, prevResult?: CniResult, opts: { noStaticIpam?: boolean } = {}): Record<string, unknown> {
  const { type, cniVersion: _pluginVersion, ...pluginKeys } = conf.plugin;
  const out: Record<string, unknown> = { ...pluginKeys, cniVersion: conf.cniVersion, name: conf.name, type };
  if (nic.mtu !== undefined && out['mtu'] === undefined) out['mtu'] = nic.mtu;
  switch (type) {
    case 'macvlan':
    case 'ipvlan':
      out['master'] = nic.master;
      break;
    case 'sriov':
      if (!nic.pciAddress) {
        throw new CniError(CniCode.InvalidNetConf, `sriov NIC ${nic.index + 1} (${nic.master}) has no PCI address (VF)`, 'sriov needs a device-plugin resource (resourceName) so the agent knows the VF');
      }
      out['deviceID'] = nic.pciAddress;
      break;
    case 'host-device':
      if (nic.pciAddress) out['pciBusID'] = nic.pciAddress;
      else out['device'] = nic.master;
      break;
  }
  if (nic.address === '') {
    out['ipam'] = conf.ipam;
  } else if (!opts.noStaticIpam) {
    const addr: Record<string, string> = { address: nic.address };
    if (nic.gateway) addr['gateway'] = nic.gateway;
    out['ipam'] = { type: 'static', addresses: [addr], routes: nicRoutes(nic) };
  }
  if (conf.dns) out['dns'] = conf.dns;
  if (prevResult) out['prevResult'] = formatResult(prevResult, conf.cniVersion);
  return out;
}
