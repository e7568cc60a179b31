// Machine output (JSON/YAML) for every command: keys sorted so snapshots and diffs stay stable.

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
  return stringify(sorted, { lineWidth: 0 });
}

const FIRST = ['apiVersion', 'kind', 'metadata'];

/** Keys sorted, with apiVersion, kind and metadata first, in one copy (a plan of 4096 hosts made two deep copies). */
function sortK8s(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortK8s);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const rest = Object.keys(o).sort();
    const out: Record<string, unknown> = {};
    for (const k of FIRST) if (k in o) out[k] = sortK8s(o[k]);
    for (const k of rest) if (!FIRST.includes(k)) out[k] = sortK8s(o[k]);
    return out;
  }
  return value;
}
