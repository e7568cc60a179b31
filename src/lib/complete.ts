// Shell completion for `kubectl multinic …`, in cobra's `__complete` protocol (what kubectl ≥ 1.26 asks
// a plugin's `kubectl_complete-<name>` executable for): one candidate a line, `value\tdescription`,
// then `:<directive>`. Pure: the command tree comes from oclif.manifest.json and cluster names from a
// source the caller gives (networks, nodes, pods, contexts, namespaces), each fetched at the edge.

/** cobra's ShellCompDirective bits. */
export const Directive = { Default: 0, Error: 1, NoSpace: 2, NoFileComp: 4, FilterFileExt: 8, FilterDirs: 16, KeepOrder: 32 } as const;

/** Names the cluster or kubeconfig can supply. */
export type NameKind = 'networks' | 'nodes' | 'pods' | 'contexts' | 'namespaces';

export interface ManifestFlag {
  name: string;
  char?: string;
  type: 'boolean' | 'option';
  description?: string;
  options?: string[];
  hidden?: boolean;
  /** Flags this one cannot be given with (oclif `exclusive`). */
  exclusive?: string[];
}
export interface ManifestCommand {
  id: string;
  description?: string;
  summary?: string;
  hidden?: boolean;
  args?: Record<string, { name: string; description?: string; options?: string[] }>;
  flags?: Record<string, ManifestFlag>;
}

export interface Completion {
  candidates: Array<{ value: string; description?: string }>;
  directive: number;
  /** Set when the candidates are names the caller must fetch (then filtered by `prefix`). */
  names?: NameKind;
  prefix: string;
}

/** Flags whose values are names from the cluster or kubeconfig, or files. */
const FLAG_NAMES: Record<string, NameKind | 'file'> = {
  network: 'networks',
  node: 'nodes',
  context: 'contexts',
  namespace: 'namespaces',
  kubeconfig: 'file',
  filename: 'file',
  file: 'file',
  inventory: 'file',
  previous: 'file',
  'junit-file': 'file',
};
/** Positional arguments whose values are names, by command id and argument name. */
const ARG_NAMES: Record<string, NameKind> = { 'status network': 'networks', 'doctor pod': 'pods', 'ipam network': 'networks' };

const firstLine = (s?: string): string | undefined => s?.split('\n')[0]?.trim() || undefined;

/**
 * What to offer for `args` (the words after `kubectl multinic`, the last one being the word under the
 * cursor, possibly empty).
 */
export function complete(commands: readonly ManifestCommand[], args: readonly string[], topics: Readonly<Record<string, string>> = {}): Completion {
  const words = args.length === 0 ? [''] : [...args];
  const current = words[words.length - 1] as string;
  const before = words.slice(0, -1);
  const visible = commands.filter((c) => !c.hidden);
  const ids = visible.map((c) => c.id.split(':'));

  // The command: the longest run of leading non-flag words that names one.
  const positional = before.filter((w) => !w.startsWith('-'));
  let cmd: ManifestCommand | undefined;
  let depth = 0;
  for (let n = Math.min(positional.length, 3); n > 0 && !cmd; n--) {
    const id = positional.slice(0, n).join(':');
    cmd = visible.find((c) => c.id === id);
    if (cmd) depth = n;
  }

  // Still choosing a command (or a topic's command): offer the next word of matching ids.
  if (!cmd && !current.startsWith('-')) {
    const next = new Map<string, string | undefined>();
    for (const [i, parts] of ids.entries()) {
      if (parts.length <= positional.length || positional.some((w, j) => parts[j] !== w)) continue;
      const word = parts[positional.length] as string;
      const c = visible[i] as ManifestCommand;
      if (!next.has(word)) next.set(word, parts.length === positional.length + 1 ? firstLine(c.summary ?? c.description) : (firstLine(topics[parts.slice(0, positional.length + 1).join(':')]) ?? 'topic'));
    }
    return filtered([...next].map(([value, description]) => ({ value, ...(description ? { description } : {}) })), current, Directive.NoFileComp);
  }
  const flags = Object.values(cmd?.flags ?? {}).filter((f) => !f.hidden);
  const flagOf = (w: string): ManifestFlag | undefined =>
    w.startsWith('--') ? flags.find((f) => f.name === w.slice(2).split('=')[0]) : w.length === 2 ? flags.find((f) => f.char === w[1]) : undefined;

  // The value of a flag: `--output <cur>`, or `--output=<cur>`.
  const prev = before[before.length - 1];
  const prevFlag = prev !== undefined && prev.startsWith('-') && !prev.includes('=') ? flagOf(prev) : undefined;
  if (prevFlag?.type === 'option') return valueOf(prevFlag, current, '');
  if (current.startsWith('--') && current.includes('=')) {
    const f = flagOf(current);
    const eq = current.indexOf('=') + 1;
    if (f?.type === 'option') return valueOf(f, current.slice(eq), current.slice(0, eq));
  }

  if (current.startsWith('-')) {
    const used = new Set(before.filter((w) => w.startsWith('-')).map((w) => flagOf(w)?.name));
    const cands = flags
      .filter((f) => !used.has(f.name) || f.name === 'filename')
      .filter((f) => !(f.exclusive ?? []).some((x) => used.has(x)) && !flags.some((g) => used.has(g.name) && g.exclusive?.includes(f.name)))
      .map((f) => ({ value: `--${f.name}`, ...(firstLine(f.description) ? { description: firstLine(f.description) } : {}) }));
    return filtered(cands.sort((a, b) => a.value.localeCompare(b.value)), current, Directive.NoFileComp);
  }

  // A positional argument: the n-th non-flag word after the command (skipping flag values).
  let index = 0;
  for (let i = 0; i < before.length; i++) {
    const w = before[i] as string;
    if (w.startsWith('-')) {
      const f = flagOf(w);
      if (f?.type === 'option' && !w.includes('=')) i++;
      continue;
    }
    index++;
  }
  const argIndex = index - depth;
  const arg = Object.values(cmd?.args ?? {})[argIndex];
  if (!arg) return { candidates: [], directive: Directive.NoFileComp, prefix: current };
  if (arg.options) return filtered(arg.options.map((value) => ({ value })), current, Directive.NoFileComp);
  const names = ARG_NAMES[`${cmd?.id.replaceAll(':', ' ')} ${arg.name}`];
  if (names) return { candidates: [], directive: Directive.NoFileComp, names, prefix: current };
  return { candidates: [], directive: Directive.NoFileComp, prefix: current };
}

/**
 * A flag's values: its options, else the list its description gives in kubectl's help phrasing
 * "One of: (a, b, c)" (-o, whose values take arguments such as jsonpath=TEMPLATE, so oclif cannot check them).
 */
function valuesOf(f: ManifestFlag): string[] | undefined {
  if (f.options) return f.options;
  const m = /One of: \(([a-z0-9, -]+)\)/.exec(f.description ?? '');
  return m ? (m[1] as string).split(', ') : undefined;
}

function valueOf(f: ManifestFlag, current: string, lead: string): Completion {
  const values = valuesOf(f);
  if (values) return filtered(values.map((value) => ({ value: lead + value })), lead + current, Directive.NoFileComp);
  const names = FLAG_NAMES[f.name];
  if (names === 'file') return { candidates: [], directive: Directive.Default, prefix: current };
  if (names) return { candidates: [], directive: Directive.NoFileComp, names, prefix: current };
  return { candidates: [], directive: Directive.NoFileComp, prefix: current };
}

function filtered(cands: Completion['candidates'], prefix: string, directive: number): Completion {
  return { candidates: cands.filter((c) => c.value.startsWith(prefix)), directive, prefix };
}

/** The protocol's text: candidates (with tab-separated descriptions), then `:directive`. */
export function formatCompletion(c: Pick<Completion, 'candidates' | 'directive'>): string {
  return `${[...c.candidates.map((x) => (x.description ? `${x.value}\t${x.description}` : x.value)), `:${c.directive}`].join('\n')}\n`;
}
