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
  const json = parseJsonDocument(text);
  if (json !== undefined) return json === null ? [] : [{ source: `${label}#1`, value: json }];
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

/**
 * A whole-text JSON object or array through JSON.parse (an inventory of thousands of hosts is
 * mostly JSON, and the YAML parser costs ~20x as much for it), or undefined to take the YAML path:
 * text that is not one JSON value, and JSON with a duplicate key (JSON.parse keeps the last one;
 * the YAML path refuses it with its line). A duplicate is seen by counting keys: in valid JSON a
 * string followed by `:` is always a key, so the text holds as many as the parsed value unless two
 * collapsed. null means the text was JSON `null` (no document).
 */
function parseJsonDocument(text: string): unknown {
  let i = 0;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t' || text[i] === '\uFEFF')) i++;
  if (text[i] !== '{' && text[i] !== '[') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(i === 0 ? text : text.slice(i));
  } catch {
    return undefined;
  }
  return countWrittenKeys(text, i) === countKeys(value) ? value : undefined;
}

/**
 * Strings followed by `:` in valid JSON text (its keys), from `from`. Jumps from quote to quote with
 * indexOf (a character loop in JavaScript cost 80 ms of a 4,096 x 8 inventory's 10 MB): in valid
 * JSON every quote outside a string opens one, and a quote inside one is escaped, i.e. preceded by
 * an odd number of backslashes.
 */
export function countWrittenKeys(text: string, from = 0): number {
  let n = 0;
  const len = text.length;
  let i = text.indexOf('"', from);
  while (i >= 0) {
    let end = text.indexOf('"', i + 1);
    for (;;) {
      if (end < 0) return n;
      let b = 0;
      while (text.charCodeAt(end - 1 - b) === 92) b++; // \
      if (b % 2 === 0) break;
      end = text.indexOf('"', end + 1);
    }
    let j = end + 1;
    while (j < len) {
      const c = text.charCodeAt(j);
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
      j++;
    }
    if (text.charCodeAt(j) === 58) n++; // :
    i = text.indexOf('"', j);
  }
  return n;
}

function countKeys(v: unknown): number {
  if (Array.isArray(v)) {
    let n = 0;
    for (const x of v) if (x !== null && typeof x === 'object') n += countKeys(x);
    return n;
  }
  if (v === null || typeof v !== 'object') return 0;
  let n = 0;
  for (const k in v) {
    n++;
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x === 'object') n += countKeys(x);
  }
  return n;
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
