// Server-side printing: the meta.k8s.io/v1 `Table` kubectl asks for (`Accept: ...;as=Table;...`)
// when it prints human output. Columns are Name, the type's own columns, then Age (for a CRD with
// additionalPrinterColumns: Name and those), formatted as kube-apiserver formats them.
import type { KubeObject } from '../../lib/k8s/meta.js';
import type { PrinterColumn, ResourceType } from './registry.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** A value at a simple JSONPath (`.a.b`, `.a[0].b`) as printed in a cell. */
export function jsonPathCell(obj: unknown, path: string): unknown {
  const parts = path.replace(/^\{?\.?/, '').replace(/\}$/, '').split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '');
  let cur: unknown = obj;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[Number(p)] : (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Kubernetes' duration.HumanDuration, as the Age column shows it. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  const d = Math.floor(h / 24);
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

function cell(c: PrinterColumn, obj: KubeObject, at: number): unknown {
  const v = c.value ? c.value(obj) : jsonPathCell(obj, c.jsonPath);
  if (v === undefined || v === null) return c.type === 'date' ? '<unknown>' : '<none>';
  if (c.type === 'date' && typeof v === 'string') return humanDuration(at - Date.parse(v));
  if (typeof v === 'object') return JSON.stringify(v);
  return v;
}

function rowObject(o: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** A Table for a list (or, with one item, for a get or one watch event). */
export function toTable(t: ResourceType, items: readonly KubeObject[], opts: { include: IncludeObject; headers: boolean; resourceVersion?: string; continue?: string }): object {
  const at = Date.now();
  const name: PrinterColumn = { name: 'Name', type: 'string', jsonPath: '.metadata.name', description: 'Name must be unique within a namespace.' };
  const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };
  // A CRD's additionalPrinterColumns replace the default Age column (they usually include one).
  const columns: PrinterColumn[] = t.crd && t.columns.length ? [name, ...t.columns] : [name, ...t.columns, age];
  const table: Record<string, unknown> = {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}), ...(opts.continue ? { continue: opts.continue } : {}) },
    columnDefinitions: opts.headers
      ? columns.map((c) => ({ name: c.name, type: c.type === 'date' ? 'string' : c.type, format: c.name === 'Name' ? 'name' : '', description: c.description ?? '', priority: c.priority ?? 0 }))
      : [],
    rows: items.map((o) => {
      const row: Record<string, unknown> = { cells: columns.map((c) => cell(c, o, at)) };
      const ro = rowObject(o, opts.include);
      if (ro !== undefined) row.object = ro;
      return row;
    }),
  };
  return table;
}
