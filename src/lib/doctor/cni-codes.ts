// What a failed pod sandbox means: the CNI error codes our plugin returns (src/lib/cni/errors.ts:
// the spec's 1-99 and ours 100-199), each with its cause and fix, and a classifier that maps a
// FailedCreatePodSandBox event message onto one. Runtimes and Multus pass on the plugin's `msg`
// but not always its code, so the classifier reads an explicit code when the message has one and
// otherwise recognises the messages our plugin and agent write. Pure.
import { CniCode } from '../cni/errors.js';

export interface CodeMeaning {
  code?: number;
  title: string;
  cause: string;
  fix: string;
}

/** Every code the plugin can return, with what it means for an admin. */
export const CNI_CODE_MEANINGS: Readonly<Record<number, CodeMeaning>> = {
  [CniCode.IncompatibleVersion]: { title: 'incompatible CNI version', cause: 'the NAD\'s cniVersion (or the plugin\'s) is not one the plugin supports', fix: 'set cniVersion to 0.3.0-1.1.0 in the MultiNicNetwork spec.plugin.cniVersion' },
  [CniCode.UnsupportedField]: { title: 'unsupported field', cause: 'the network asks for something this plugin does not do (e.g. plugin type aws-ipvlan, ipam multi-config)', fix: 'change the MultiNicNetwork spec as the message says' },
  [CniCode.UnknownContainer]: { title: 'unknown container', cause: 'the pod\'s network namespace is gone (the sandbox died during ADD)', fix: 'nothing: the runtime retries with a new sandbox' },
  [CniCode.InvalidEnv]: { title: 'invalid CNI environment', cause: 'the runtime passed bad CNI_* variables (interface name too long, bad container id), or a plugin is not in CNI_PATH', fix: 'shorten the interface name in the pod annotation; or install the missing plugin into the CNI bin dir' },
  [CniCode.Io]: { title: 'I/O failure', cause: 'the plugin could not read its input', fix: 'check the runtime and Multus logs' },
  [CniCode.Decode]: { title: 'cannot decode config', cause: 'the NAD config is not valid JSON', fix: 'let the leader agent regenerate the NAD (delete it; it is recreated)' },
  [CniCode.InvalidNetConf]: { title: 'invalid network config', cause: 'the NAD config or the pod\'s cni-args are not valid for this network', fix: 'fix the pod annotation\'s cni-args or the MultiNicNetwork, as the message says' },
  [CniCode.TryAgainLater]: { title: 'agent not ready or unreachable', cause: 'the agent on the node is not running, not ready, or its network has no blocks on this host yet', fix: 'kubectl multinic doctor (agent and network checks); the runtime retries' },
  [CniCode.PluginNotAvailable]: { title: 'plugin not available', cause: 'the agent on the node does not answer its socket', fix: 'restart the agent pod on the node; kubectl multinic doctor' },
  [CniCode.AgentFailed]: { title: 'agent failed', cause: 'the agent answered with an error', fix: 'read the message; the agent log on the node' },
  [CniCode.NoMatchingNic]: { title: 'no matching NIC', cause: 'no host NIC matches the pod\'s selection (masters, class, nics) on this node', fix: 'check the pod\'s cni-args against kubectl multinic status (each node\'s NICs)' },
  [CniCode.PoolExhausted]: { title: 'pool exhausted', cause: 'the host\'s pod block on that NIC has no free address', fix: 'kubectl multinic ipam check (leaks); or give hosts bigger pod blocks (a smaller hostBlock)' },
  [CniCode.UnknownDeviceClass]: { title: 'unknown device class', cause: 'the pod names a DeviceClass that does not exist', fix: 'kubectl get deviceclasses; fix cni-args.class or create the DeviceClass' },
  [CniCode.UnknownNetwork]: { title: 'unknown network', cause: 'the agent on the node does not know the network the NAD names (deleted, renamed, or not yet seen)', fix: 'kubectl get multinicnetworks; create the network or fix the pod annotation' },
  [CniCode.DelegateFailed]: { title: 'delegate plugin failed', cause: 'the main plugin (macvlan, ipvlan, sriov, host-device) failed for one NIC; everything was rolled back', fix: 'read the delegate\'s message: a missing binary goes into the CNI bin dir; a kernel without the link type needs another plugin type' },
  [CniCode.CheckFailed]: { title: 'CHECK failed', cause: 'the pod\'s interfaces, addresses or routes are not as allocated', fix: 'restart the pod' },
  [CniCode.Internal]: { title: 'internal error', cause: 'a bug in the plugin', fix: 'report it with the message (kubectl multinic sysdump when available)' },
};

interface Pattern {
  re: RegExp;
  meaning: CodeMeaning;
}

/** Message patterns, tried in order, for failures that do not carry a code (or are not ours). */
const PATTERNS: readonly Pattern[] = [
  { re: /failed to find plugin "multi-nic"/i, meaning: { title: 'multi-nic plugin not found', cause: 'Multus looks in a CNI bin dir the agent did not install multi-nic into (or it was removed)', fix: 'kubectl multinic install --cni-bin-dir <Multus\' cnibin hostPath>; kubectl multinic doctor checks both' } },
  { re: /failed to find plugin "([a-z0-9-]+)"/i, meaning: { code: CniCode.DelegateFailed, title: 'delegate plugin not found', cause: 'the reference CNI plugin the network delegates to is not installed on the node', fix: 'install containernetworking-plugins into the host CNI bin dir' } },
  { re: /k8s\.v1\.cni\.cncf\.io\/networks is not|network attachment selection annotation/i, meaning: { title: 'bad networks annotation', cause: 'the pod\'s k8s.v1.cni.cncf.io/networks annotation does not parse', fix: 'fix the annotation (kubectl multinic doctor pod names the position) and recreate the pod' } },
  { re: /network-attachment-definition .* not found|cannot find a network-attachment-definition|NetworkAttachmentDefinition .* not found/i, meaning: { title: 'NetworkAttachmentDefinition not found', cause: 'no NAD of that name in the pod\'s namespace: the network does not exist, or the namespace is not in its spec.namespaces', fix: 'kubectl get multinicnetworks; add the namespace to spec.namespaces (or create the network)' } },
  { re: /is not known to the agent/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.UnknownNetwork]!, code: CniCode.UnknownNetwork } },
  { re: /is exhausted|has no usable addresses/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.PoolExhausted]!, code: CniCode.PoolExhausted } },
  { re: /device ?class/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.UnknownDeviceClass]!, code: CniCode.UnknownDeviceClass } },
  { re: /selected no NIC|no (host )?NIC match/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.NoMatchingNic]!, code: CniCode.NoMatchingNic } },
  { re: /failed to add NIC/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.DelegateFailed]!, code: CniCode.DelegateFailed } },
  { re: /no CIDR yet|has no (secondary )?NIC .*up|not ready/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.TryAgainLater]!, code: CniCode.TryAgainLater } },
  { re: /agent\.sock|ECONNREFUSED|ENOENT.*sock|agent .*unreachable|plugin not available/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.TryAgainLater]!, code: CniCode.TryAgainLater, title: 'agent unreachable' } },
  { re: /internal error/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.Internal]!, code: CniCode.Internal } },
  { re: /incompatible CNI versions?/i, meaning: { ...CNI_CODE_MEANINGS[CniCode.IncompatibleVersion]!, code: CniCode.IncompatibleVersion } },
];

/** What a sandbox failure message means: an explicit `"code": N` wins, then the patterns; undefined when unknown. */
export function classifyCniFailure(message: string): CodeMeaning | undefined {
  const explicit = /"code"\s*:\s*(\d+)/.exec(message) ?? /\bcode (\d{1,3})\b/.exec(message);
  if (explicit) {
    const code = Number(explicit[1]);
    const m = CNI_CODE_MEANINGS[code];
    if (m) return { ...m, code };
  }
  for (const p of PATTERNS) {
    const hit = p.re.exec(message);
    if (!hit) continue;
    if (p.meaning.title === 'delegate plugin not found' && hit[1]) return { ...p.meaning, title: `delegate plugin "${hit[1]}" not found`, cause: `the ${hit[1]} CNI plugin is not installed on the node` };
    return p.meaning;
  }
  return undefined;
}
