// Cluster-wide checks: what is installed (CRDs, the agent DaemonSet, Multus), agent versions, and
// whether every agent publishes (and answers for) its node's kernel truth. Pure.
import { CRDS } from '../../crds/crds.gen.js';
import { APPLIED_HASH_ANNOTATION, withHash } from '../../install/apply.js';
import { renderInstall } from '../../install/render.js';
import type { KubeObject } from '../../k8s/meta.js';
import { DIAGNOSTICS_VERSION } from '../../diagnostics/types.js';
import type { Check, DoctorSnapshot, Finding } from '../types.js';
import { age, diagnosticsOf, finding, hostInterfacesByNode, names, nameOf, nodeReady, nsName, rawDiagnosticsVersion, taintText, untoleratedTaints, type Toleration } from '../util.js';

const INSTALL = 'kubectl multinic install';

interface PodTemplate {
  spec?: { template?: { spec?: { tolerations?: Toleration[]; nodeSelector?: Record<string, string>; volumes?: Array<{ name: string; hostPath?: { path?: string } }> } } };
}
const templateOf = (ds: KubeObject) => (ds as PodTemplate).spec?.template?.spec ?? {};

/** Nodes the agent DaemonSet should run on (its nodeSelector matches, every hard taint tolerated), and those kept off by taints. */
export function agentPlacement(s: DoctorSnapshot): { should: KubeObject[]; tainted: Array<{ node: KubeObject; taints: string[] }> } {
  const ds = s.daemonSets[0];
  const t = ds ? templateOf(ds) : {};
  const sel = t.nodeSelector ?? {};
  const should: KubeObject[] = [];
  const tainted: Array<{ node: KubeObject; taints: string[] }> = [];
  for (const n of s.nodes) {
    const labels = n.metadata?.labels ?? {};
    if (!Object.entries(sel).every(([k, v]) => labels[k] === v)) continue;
    const bad = untoleratedTaints(n, t.tolerations ?? []);
    if (bad.length) tainted.push({ node: n, taints: bad.map(taintText) });
    else should.push(n);
  }
  return { should, tainted };
}

export const crdsInstalled: Check = {
  id: 'crds',
  title: 'CRDs installed and current',
  group: 'cluster',
  severity: 'fail',
  explain: 'Every CRD of multinic.fms.io (MultiNicNetwork, DeviceClass, HostInterface, CIDR, CIDRClaim, IPPool) exists, serves v1, and matches the one this CLI installs (its applied-hash annotation).',
  run(s) {
    const out: Finding[] = [];
    const have = new Map(s.crds.map((c) => [nameOf(c), c]));
    const rendered = new Map(renderInstall({ version: s.cliVersion }).filter((o) => o.kind === 'CustomResourceDefinition').map((o) => [nameOf(o), withHash(o)]));
    for (const crd of CRDS) {
      const name = crd.metadata.name;
      const c = have.get(name);
      if (!c) {
        out.push(finding(this, {}, `CRD ${name} is not installed`, 'kubectl-multinic is not (fully) installed in this cluster', `${INSTALL}`));
        continue;
      }
      const versions = ((c.spec as { versions?: Array<{ name: string; served?: boolean }> } | undefined)?.versions ?? []).filter((v) => v.served !== false).map((v) => v.name);
      if (!versions.includes('v1')) {
        out.push(finding(this, {}, `CRD ${name} serves ${versions.join(', ') || 'no version'}, not v1`, 'it was installed by another product or an old release', `${INSTALL} (replaces it)`));
        continue;
      }
      const want = rendered.get(name)?.metadata?.annotations?.[APPLIED_HASH_ANNOTATION];
      const got = c.metadata?.annotations?.[APPLIED_HASH_ANNOTATION];
      if (want && got !== want) {
        const by = c.metadata?.labels?.['app.kubernetes.io/version'];
        out.push(
          finding(
            this,
            {},
            `CRD ${name} differs from the one kubectl-multinic ${s.cliVersion} installs${by ? ` (installed by ${by})` : got ? '' : ' (not installed by kubectl multinic install)'}`,
            'the CRDs were installed by another version: fields this CLI or its agents use may be missing or pruned',
            `${INSTALL} (with the CLI whose version the agents run)`,
            'warn',
          ),
        );
      }
    }
    return out;
  },
};

export const agentDaemonSet: Check = {
  id: 'agent-daemonset',
  title: 'agent DaemonSet present and ready on every node',
  group: 'cluster',
  severity: 'fail',
  explain:
    'The agent DaemonSet exists and has a ready agent on every node it should run on; nodes kept off by taints it does not tolerate are named (pods there get no secondary NICs); every such node published its HostInterface.',
  run(s) {
    const out: Finding[] = [];
    const ds = s.daemonSets[0];
    if (!ds) {
      out.push(finding(this, {}, 'no agent DaemonSet (app.kubernetes.io/name=multinic-agent) in any namespace', 'the agent is not installed, or was deleted', INSTALL));
      return out;
    }
    const st = (ds.status ?? {}) as { desiredNumberScheduled?: number; numberReady?: number };
    const desired = st.desiredNumberScheduled ?? 0;
    const ready = st.numberReady ?? 0;
    if (ready < desired) {
      out.push(
        finding(
          this,
          {},
          `DaemonSet ${nsName(ds)}: ${ready}/${desired} agents ready`,
          'an agent pod is crash-looping, pending or not answering its health check',
          `kubectl -n ${ds.metadata?.namespace} get pods -l app.kubernetes.io/name=multinic-agent -o wide; kubectl -n ${ds.metadata?.namespace} logs <pod>`,
        ),
      );
    }
    const { should, tainted } = agentPlacement(s);
    for (const { node, taints } of tainted) {
      out.push(
        finding(
          this,
          { node: nameOf(node) },
          `node ${nameOf(node)} has taint${taints.length > 1 ? 's' : ''} ${taints.join(', ')} that the agent DaemonSet does not tolerate: no agent runs there`,
          'pods scheduled there get no multi-NIC interfaces and the node claims no blocks',
          `tolerate it: ${INSTALL} --toleration ${taints[0]?.replace(/=[^:]*/, '')} (or untaint the node if it should run pods: kubectl taint node ${nameOf(node)} ${taints[0]}-)`,
          'warn',
        ),
      );
    }
    const his = hostInterfacesByNode(s);
    for (const n of should) {
      const name = nameOf(n);
      if (!nodeReady(n)) continue;
      if (!his.has(name)) {
        out.push(
          finding(
            this,
            { node: name },
            `the agent on ${name} has not published its HostInterface`,
            'the agent there is not running, cannot reach the API, or lacks RBAC',
            `kubectl -n ${ds.metadata?.namespace} get pods -l app.kubernetes.io/name=multinic-agent --field-selector spec.nodeName=${name}; then its logs`,
          ),
        );
      }
    }
    return out;
  },
};

export const agentVersion: Check = {
  id: 'agent-version',
  title: 'agents run the CLI version',
  group: 'cluster',
  severity: 'warn',
  explain: 'Each agent reports its version (HostInterface status.agentVersion, and in its diagnostics); a version other than the CLI\'s is skew: checks may misread what it publishes.',
  run(s) {
    const byVersion = new Map<string, string[]>();
    for (const hi of s.hostInterfaces) {
      const v = diagnosticsOf(hi)?.agentVersion || hi.status?.agentVersion;
      if (!v || v === s.cliVersion) continue;
      byVersion.set(v, [...(byVersion.get(v) ?? []), hi.metadata.name ?? hi.spec.hostName]);
    }
    return [...byVersion].map(([v, nodes]) =>
      finding(
        this,
        nodes.length === 1 ? { node: nodes[0] } : {},
        `agent ${v} on ${names(nodes)}; this CLI is ${s.cliVersion}`,
        'the agent DaemonSet runs another release than this CLI (an upgrade half done, or an old CLI)',
        `upgrade both to one release: ${INSTALL} (with the CLI of the release you want)`,
      ),
    );
  },
};

/** The multus-like DaemonSets: a name containing "multus". */
export const multusDaemonSets = (s: DoctorSnapshot): KubeObject[] => s.allDaemonSets.filter((d) => /multus/i.test(nameOf(d)));

export const multusInstalled: Check = {
  id: 'multus',
  title: 'Multus installed, with our CNI bin dir',
  group: 'cluster',
  severity: 'fail',
  explain:
    'Multus calls our plugin for each pod; it runs as a DaemonSet named like multus. Its cnibin hostPath must equal the agent DaemonSet\'s cni-bin hostPath, or Multus cannot find multi-nic ("failed to find plugin").',
  run(s) {
    const found = multusDaemonSets(s);
    const ds = s.daemonSets[0];
    const ourDir = ds ? templateOf(ds).volumes?.find((v) => v.name === 'cni-bin')?.hostPath?.path : undefined;
    if (found.length === 0) {
      const attached = s.pods.some((p) => p.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status'] !== undefined);
      if (attached) {
        return [
          finding(
            this,
            {},
            'no Multus DaemonSet, but pods carry network-status annotations: Multus (or something in its place) runs outside Kubernetes',
            'Multus installed on the hosts (or the lab node runner); its CNI bin dir cannot be read from the API',
            `make sure the host's CNI bin dir is ${ourDir ?? 'the one the agent installs into'}`,
            'info',
          ),
        ];
      }
      // No evidence either way (no pod attached yet): Multus may run on the hosts outside Kubernetes.
      return [
        finding(
          this,
          {},
          'no Multus DaemonSet (a DaemonSet named like multus) in any namespace, and no pod carries a network-status annotation yet',
          'Multus is not installed (nothing would call the multi-nic plugin), or it runs on the hosts outside Kubernetes',
          'install Multus (https://github.com/k8snetworkplumbingwg/multus-cni); if it runs on the hosts, ignore this until a pod is attached',
          'warn',
        ),
      ];
    }
    const out: Finding[] = [];
    for (const m of found) {
      const dir = templateOf(m).volumes?.find((v) => v.name === 'cnibin')?.hostPath?.path;
      if (ourDir && dir && dir !== ourDir) {
        out.push(
          finding(
            this,
            {},
            `Multus ${nsName(m)} uses CNI bin dir ${dir}; the agent installs multi-nic into ${ourDir}`,
            'Multus will not find the multi-nic plugin ("failed to find plugin multi-nic")',
            `${INSTALL} --cni-bin-dir ${dir}`,
          ),
        );
      }
    }
    return out;
  },
};

export const agentDiagnostics: Check = {
  id: 'agent-diagnostics',
  title: 'every agent publishes and answers with kernel truth',
  group: 'cluster',
  severity: 'warn',
  explain:
    'doctor asks each agent to probe its node now (a nonce in the multinic.fms.io/probe-request annotation) and waits for the answer in HostInterface status.diagnostics. An agent that publishes no diagnostics (an older release) leaves its node\'s kernel checks out; one that does not answer is named, and its older diagnostics are used with their age.',
  run(s) {
    const out: Finding[] = [];
    const probes = new Map(s.probes.map((p) => [p.node, p]));
    for (const hi of [...s.hostInterfaces].sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : 1))) {
      const node = hi.metadata.name ?? hi.spec.hostName;
      const d = diagnosticsOf(hi);
      const p = probes.get(node);
      if (!d) {
        const raw = rawDiagnosticsVersion(hi);
        const ver = hi.status?.agentVersion ?? 'unknown';
        out.push(
          finding(
            this,
            { node },
            raw !== undefined
              ? `agent on ${node} publishes diagnostics version ${String(raw)}, which this CLI (reads ≤ ${DIAGNOSTICS_VERSION}) cannot read (agent ${ver})`
              : `agent on ${node} publishes no diagnostics (version ${ver})`,
            raw !== undefined ? 'the agent is newer than this CLI' : 'the agent predates kernel-truth diagnostics, or has not probed yet: its node\'s route, sysctl, link, binary and journal checks are skipped',
            raw !== undefined ? 'use the CLI of the agents\' release' : `upgrade the agent: ${INSTALL}`,
          ),
        );
        continue;
      }
      if (p?.error) {
        out.push(finding(this, { node }, `could not ask the agent on ${node} to probe: ${p.error}; using diagnostics from ${age(d.observedAt, s.now)} ago`, 'this user may not patch HostInterfaces', 'grant patch on hostinterfaces.multinic.fms.io, or read the periodic diagnostics as they are'));
      } else if (p && !p.answered) {
        out.push(
          finding(
            this,
            { node },
            `agent on ${node} did not answer the probe; using its diagnostics from ${age(d.observedAt, s.now)} ago (observed ${d.observedAt})`,
            'the agent is stopped, hung, or cannot write to the API',
            `kubectl get pods -A -l app.kubernetes.io/name=multinic-agent --field-selector spec.nodeName=${node}; then its logs`,
          ),
        );
      }
      for (const e of d.errors ?? []) out.push(finding(this, { node }, `agent on ${node} could not probe: ${e}`, 'a probe tool or file is missing in the agent container', 'see the agent log on that node', 'warn'));
    }
    return out;
  },
};
