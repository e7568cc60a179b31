// Pure parsing of manifest text (multi-document YAML or JSON) into documents that remember where
// they came from, so every later error can name `network.yaml#2` instead of "the input".
import { parseAllDocuments } from 'yaml';
import { UserError } from './errors.js';

/** One document of a manifest stream. `source` is `<label>#<n>` (1-based), or `<label>#<n>.items[i]` for List items. */
export interface ManifestDoc {
  readonly source: string;
  readonly value: unknown;
}

/** A manifest that is not YAML/JSON, or not the kind of object expected. Exit code 2. */
export class ManifestError extends UserError {
  constructor(readonly source: string, problem: string, hint?: string) {
    super(`${source}: ${problem}`, { hint });
    this.name = 'ManifestError';
  }
}

/**
 * Splits `text` into its non-empty documents. JSON is accepted as the YAML subset it is. Throws
 * ManifestError naming the document, line and column of the first syntax error.
 */
export function parseManifests(text: string, label: string): ManifestDoc[] {
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const out: ManifestDoc[] = [];
  list.forEach((doc, i) => {
    const source = `${label}#${i + 1}`;
    const err = doc.errors[0];
    if (err) {
      const pos = err.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
      const what = firstLine(err.message).replace(/ at line \d+, column \d+:?$/, '');
      throw new ManifestError(source, `not valid YAML or JSON${where}: ${what}`, 'fix the syntax (check indentation, quotes and colons)');
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    out.push({ source, value });
  });
  return out;
}

/** True for `kind: List` and typed lists such as `HostInterfaceList` (what `kubectl get -o yaml` prints). */
export function isList(value: unknown): value is { kind: string; items: unknown[] } {
  if (!isObject(value)) return false;
  return typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items);
}

/** Replaces every List document by its items, each labelled `<source>.items[i]`. */
export function flattenLists(docs: readonly ManifestDoc[]): ManifestDoc[] {
  const out: ManifestDoc[] = [];
  for (const d of docs) {
    if (isList(d.value)) d.value.items.forEach((item, i) => out.push({ source: `${d.source}.items[${i}]`, value: item }));
    else out.push(d);
  }
  return out;
}

/** `kind "name"` of an object, for messages; best effort on malformed input. */
export function describeObject(value: unknown): string {
  if (!isObject(value)) return Array.isArray(value) ? 'a YAML sequence' : `a ${value === null ? 'null' : typeof value} value`;
  const kind = typeof value.kind === 'string' ? value.kind : 'an object without kind';
  const meta = value.metadata;
  const name = isObject(meta) && typeof meta.name === 'string' ? ` "${meta.name}"` : '';
  return `${kind}${name}`;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
