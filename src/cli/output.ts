// Machine output for every command, as kubectl prints it: one `-o/--output` flag definition
// (outputFlags), one printer (emit). Formats: a table (the default; `wide` where a command has
// wider columns), json and yaml (keys sorted so snapshots and diffs stay stable), name
// (`kind.group/name` per object, as kubectl's name printer), and kubectl's JSONPath templates
// (jsonpath=TEMPLATE, jsonpath-as-json=TEMPLATE, jsonpath-file=FILE; src/lib/jsonpath.ts) over the
// very object -o json prints.
import { readFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { UserError } from '../lib/errors.js';
import { JsonPath, JsonPathError } from '../lib/jsonpath.js';

/** What one command can print besides json, yaml and JSONPath. */
export interface OutputChoices {
  /** A table with more columns (`-o wide`). */
  wide?: boolean;
  /** Objects to name (`-o name`). */
  name?: boolean;
  /** What `-o` calls the default human output: table, or text where there is no table (lab). */
  human?: 'table' | 'text';
}

/** A parsed `-o` value. `human` is the table (or text) a command prints without -o. */
export type Output =
  | { format: 'human'; wide: boolean }
  | { format: 'json' | 'yaml' | 'name' }
  | { format: 'jsonpath'; jsonpath: JsonPath; asJson: boolean };

const TEMPLATE_FORMATS = ['jsonpath', 'jsonpath-as-json', 'jsonpath-file'] as const;

/** The -o values a command accepts, sorted as kubectl lists them in its error. */
export function outputFormats(choices: OutputChoices): string[] {
  return ['json', 'yaml', ...TEMPLATE_FORMATS, choices.human ?? 'table', ...(choices.wide ? ['wide'] : []), ...(choices.name ? ['name'] : [])].sort();
}

/**
 * The values in kubectl's help phrasing, "One of: (a, b, c)", which shell completion reads from the
 * flag's description in the manifest (src/lib/complete.ts).
 */
function oneOf(choices: OutputChoices): string {
  return `One of: (${['json', 'yaml', ...(choices.name ? ['name'] : []), ...TEMPLATE_FORMATS, ...(choices.wide ? ['wide'] : []), choices.human ?? 'table'].join(', ')}).`;
}

const readText = (path: string): string => readFileSync(path, 'utf8');

/**
 * Parses an -o value with kubectl's rules and messages (an unknown format lists the allowed ones; a
 * template is parsed here, so a bad one fails before anything is asked of the cluster).
 */
export function parseOutput(value: string, choices: OutputChoices, readFile: (path: string) => string = readText): Output {
  const eq = value.indexOf('=');
  const format = eq < 0 ? value : value.slice(0, eq);
  const arg = eq < 0 ? '' : value.slice(eq + 1);
  if (!outputFormats(choices).includes(format)) {
    throw new UserError(`unable to match a printer suitable for the output format "${format}", allowed formats are: ${outputFormats(choices).join(',')}`, {
      hint: `e.g. -o json, -o yaml${choices.name ? ', -o name' : ''}, -o jsonpath='{.kind}'`,
    });
  }
  if (eq >= 0 && !(TEMPLATE_FORMATS as readonly string[]).includes(format)) {
    throw new UserError(`-o ${format} takes no argument (got "${value}")`, { hint: `write -o ${format}` });
  }
  if (format === (choices.human ?? 'table') || format === 'wide') return { format: 'human', wide: format === 'wide' };
  if (format === 'json' || format === 'yaml' || format === 'name') return { format };
  let template = arg;
  if (format === 'jsonpath-file' && arg !== '') {
    try {
      template = readFile(arg);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EISDIR' ? 'is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
      throw new UserError(`error reading --template ${arg}, open ${arg}: ${why}`, { hint: 'give a readable file holding one JSONPath template' });
    }
  }
  try {
    return { format: 'jsonpath', jsonpath: JsonPath.parse(template), asJson: format === 'jsonpath-as-json' };
  } catch (e) {
    if (!(e instanceof JsonPathError)) throw e;
    if (template === '') throw new UserError(e.message, { hint: `give the template: -o ${format}=${format === 'jsonpath-file' ? 'FILE' : "'{.metadata.name}'"}` });
    throw new UserError(`error parsing jsonpath ${template}, ${e.message}`, { hint: 'kubectl\'s JSONPath syntax: https://kubernetes.io/docs/reference/kubectl/jsonpath/' });
  }
}

/**
 * The -o/--output flag and kubectl's --allow-missing-template-keys, for a command that prints data;
 * spread into its `flags`. Without -o the command prints its table.
 */
export function outputFlags(choices: OutputChoices = {}) {
  return {
    output: Flags.custom<Output>({
      char: 'o',
      description: `Output format. ${oneOf(choices)} Default: ${choices.human === 'text' ? 'text' : 'a table'}${choices.wide ? ' (wide: more columns)' : ''}; json and yaml print the result object (schemas/)${choices.name ? ', name kind.group/name of each object' : ''}; jsonpath=TEMPLATE, jsonpath-as-json=TEMPLATE and jsonpath-file=FILE apply kubectl's JSONPath to the json output.`,
      helpValue: 'FORMAT',
      parse: async (input) => parseOutput(input, choices),
    })(),
    'allow-missing-template-keys': Flags.boolean({
      description: 'With -o jsonpath: a field missing from the output prints nothing (true, the default) or is an error (false).',
      default: true,
      allowNo: true,
    }),
  };
}

/** What a command gives emit(): the data, and how to show it for people and by name. */
export interface Emittable {
  /** What -o json and yaml print and JSONPath templates see. */
  data: unknown;
  /** The table or text printed without -o (wide: -o wide). */
  human: (wide: boolean) => string;
  /** Objects as kind.group/name for -o name (default: the data itself, or a List's items). */
  names?: () => string[];
  /** -o yaml when it is not the data as one document (install: one document per object). */
  yaml?: () => Promise<string>;
}

/** Prints `e` in the format asked for; JSONPath output is written as the template makes it (no newline added). */
export async function emit(write: (text: string) => void, output: Output | undefined, e: Emittable, opts: { allowMissingKeys?: boolean } = {}): Promise<void> {
  const o = output ?? { format: 'human', wide: false };
  const line = (t: string) => write(t === '' || t.endsWith('\n') ? t : `${t}\n`);
  switch (o.format) {
    case 'human':
      return line(e.human(o.wide));
    case 'json':
      return line(await renderData(e.data, 'json'));
    case 'yaml':
      return line(e.yaml ? await e.yaml() : await renderData(e.data, 'yaml'));
    case 'name': {
      const names = e.names ? e.names() : objectNames(e.data);
      return write(names.map((n) => `${n}\n`).join(''));
    }
    case 'jsonpath': {
      const data = JSON.parse(JSON.stringify(e.data)) as unknown;
      try {
        return write(o.asJson ? o.jsonpath.executeAsJson(data, opts) : o.jsonpath.execute(data, opts));
      } catch (err) {
        if (!(err instanceof JsonPathError)) throw err;
        throw new UserError(`error executing jsonpath ${JSON.stringify(o.jsonpath.template)}: Error executing template: ${err.message}. Printing more information for debugging the template:\n\ttemplate was:\n\t\t${o.jsonpath.template}`, {
          hint: err.message.endsWith(' is not found') ? 'see the fields with -o json, or print nothing for missing fields with --allow-missing-template-keys=true' : 'see the fields with -o json',
        });
      }
    }
  }
}

/** kubectl's name for an object: lower-case kind, its API group when it has one, then its name. */
export function objectName(o: { apiVersion?: string; kind?: string; metadata?: { name?: string } }): string {
  const group = o.apiVersion?.includes('/') ? o.apiVersion.slice(0, o.apiVersion.indexOf('/')) : '';
  return `${(o.kind ?? '').toLowerCase()}${group ? `.${group}` : ''}/${o.metadata?.name ?? ''}`;
}

/** Names of an object, or of each item of a v1 List. */
export function objectNames(data: unknown): string[] {
  const o = data as { kind?: string; items?: unknown[] };
  if (o.kind === 'List' && Array.isArray(o.items)) return o.items.map((i) => objectName(i as object));
  return [objectName(o as object)];
}


/** Returns a deep copy with object keys sorted (arrays keep their order). */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out as T;
  }
  return value;
}

/** Renders data as JSON (2-space) or YAML, keys sorted except apiVersion/kind/metadata first. */
export async function renderData(value: unknown, format: 'json' | 'yaml'): Promise<string> {
  const sorted = sortK8s(value);
  if (format === 'json') return `${JSON.stringify(sorted, null, 2)}\n`;
  const { stringify } = await import('yaml');
  // Shared objects print in full each time, as before sortK8s stopped copying them (no YAML anchors).
  return stringify(sorted, { lineWidth: 0, aliasDuplicateObjects: false });
}

const FIRST = ['apiVersion', 'kind', 'metadata'];

/**
 * Keys sorted, with apiVersion, kind and metadata first. A plain object or array already in that
 * order (and all it holds) is returned as it is, not copied: a plan of 4,096 x 8 holds 32,768 host
 * entries the planner writes in this order, and copying them was a fifth of rendering it.
 */
function sortK8s(value: unknown): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const s = sortK8s(v);
      if (s !== v) (out ??= value.slice())[i] = s;
    }
    return out ?? value;
  }
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    const proto = Object.getPrototypeOf(o) as unknown;
    if ((proto === Object.prototype || proto === null) && inK8sOrder(keys)) {
      let out: Record<string, unknown> | undefined;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        const s = sortK8s(o[k]);
        if (s !== o[k] && !out) {
          out = {};
          for (let j = 0; j < i; j++) out[keys[j] as string] = o[keys[j] as string];
        }
        if (out) out[k] = s;
      }
      return out ?? o;
    }
    const out: Record<string, unknown> = {};
    for (const k of FIRST) if (k in o) out[k] = sortK8s(o[k]);
    for (const k of keys.sort()) if (!FIRST.includes(k)) out[k] = sortK8s(o[k]);
    return out;
  }
  return value;
}

/** Whether keys are in sortK8s's order already: the FIRST ones present, in that order, then the rest sorted. */
function inK8sOrder(keys: readonly string[]): boolean {
  let i = 0;
  for (const f of FIRST) if (keys[i] === f) i++;
  for (let j = i; j < keys.length; j++) {
    const k = keys[j] as string;
    if (FIRST.includes(k) || (j > i && !((keys[j - 1] as string) < k))) return false;
  }
  return true;
}
