// The edge of shell completion: reads the command tree from oclif.manifest.json (no oclif start-up),
// asks src/lib/complete.ts what to offer, and fetches cluster names with a short timeout. Run by
// bin/kubectl_complete-multinic, which kubectl ≥ 1.26 calls for `kubectl multinic <TAB>`.
import { readFileSync } from 'node:fs';
import { complete, Directive, formatCompletion, type Completion, type ManifestCommand, type NameKind } from '../lib/complete.js';

const manifestUrl = new URL('../../oclif.manifest.json', import.meta.url);
const packageUrl = new URL('../../package.json', import.meta.url);

/** kubectl's global flags from the words typed so far (the plugin's own -n/--context/--kubeconfig). */
function kubeFlags(args: readonly string[]): { kubeconfig?: string; context?: string; namespace?: string } {
  const out: { kubeconfig?: string; context?: string; namespace?: string } = {};
  for (let i = 0; i < args.length - 1; i++) {
    const w = args[i] as string;
    const [flag, inline] = w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, undefined];
    const value = inline ?? args[i + 1];
    if (value === undefined) continue;
    if (flag === '--kubeconfig') out.kubeconfig = value;
    else if (flag === '--context') out.context = value;
    else if (flag === '-n' || flag === '--namespace') out.namespace = value;
  }
  return out;
}

/** Names of `kind`, or [] when the cluster does not answer within the timeout (completion stays quiet). */
async function fetchNames(kind: NameKind, args: readonly string[], timeout: string): Promise<string[]> {
  const f = kubeFlags(args);
  if (kind === 'contexts') {
    const [{ kubeconfigFiles }, { mergeKubeconfigs }] = await Promise.all([import('../kube/client.js'), import('../kube/kubeconfig.js')]);
    return [...mergeKubeconfigs(kubeconfigFiles(f, process.env).files).contexts.keys()];
  }
  const { connect } = await import('../kube/client.js');
  const { R } = await import('../lib/k8s/resources.js');
  const k = await connect({ ...f, requestTimeout: timeout });
  if (kind === 'pods') return (await k.list(R.Pod)).items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
  const r = { networks: R.MultiNicNetwork, nodes: R.Node, namespaces: R.Namespace }[kind];
  return (await k.list(r)).items.map((o) => o.metadata?.name ?? '').filter(Boolean);
}

/** The completion answer for `args` (after `kubectl multinic`). */
export async function completionFor(args: readonly string[], timeout = process.env['MULTINIC_COMPLETE_TIMEOUT'] ?? '2s'): Promise<Completion> {
  const manifest = JSON.parse(readFileSync(manifestUrl, 'utf8')) as { commands: Record<string, ManifestCommand> };
  const pkg = JSON.parse(readFileSync(packageUrl, 'utf8')) as { oclif?: { topics?: Record<string, { description?: string }> } };
  const topics = Object.fromEntries(Object.entries(pkg.oclif?.topics ?? {}).map(([k, v]) => [k, v.description ?? '']));
  const c = complete(Object.values(manifest.commands), args, topics);
  if (!c.names) return c;
  try {
    const names = await fetchNames(c.names, args, timeout);
    return { ...c, candidates: names.filter((n) => n.startsWith(c.prefix)).sort().map((value) => ({ value })) };
  } catch (e) {
    // kubectl shows a plugin's stderr only with its own debugging on; keep the reason for whoever looks.
    if (process.env['MULTINIC_COMPLETE_DEBUG']) process.stderr.write(`kubectl_complete-multinic: cannot list ${c.names}: ${(e as Error).message}\n`);
    return { ...c, candidates: [], directive: Directive.NoFileComp };
  }
}

export async function main(args: readonly string[]): Promise<void> {
  process.stdout.write(formatCompletion(await completionFor(args)));
}
