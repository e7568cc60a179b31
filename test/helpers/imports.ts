// The import graph of src/, read with the TypeScript parser (no type checking): relative imports and
// re-exports only, each edge marked when it is type-only (erased by the compiler, so it cannot form a
// cycle at run time). Used by test/layout.test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(name) ? [p] : [];
  });
}

/** Every .ts/.tsx file under `dir` mapped to the files under `dir` it imports or re-exports from. */
export function importGraph(dir: string): Map<string, ImportEdge[]> {
  const graph = new Map<string, ImportEdge[]>();
  for (const file of sourceFiles(dir)) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
    const edges: ImportEdge[] = [];
    const add = (spec: ts.Expression | undefined, typeOnly: boolean): void => {
      if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) return;
      const base = resolve(dirname(file), spec.text).replace(/\.js$/, '');
      const to = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find((p) => existsSync(p));
      if (to) edges.push({ to, typeOnly });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node)) {
        const clause = node.importClause;
        const named = clause?.namedBindings;
        const allTypes = named && ts.isNamedImports(named) && !clause.name && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
        add(node.moduleSpecifier, Boolean(clause?.isTypeOnly || allTypes));
      } else if (ts.isExportDeclaration(node)) {
        add(node.moduleSpecifier, node.isTypeOnly);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        add(node.arguments[0], false);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    graph.set(file, edges);
  }
  return graph;
}

/** The strongly connected components with more than one node (Tarjan): each is an import cycle. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The graph of `unit(file)` for every edge between two different units (edges kept by `keep`). */
export function unitGraph(graph: ReadonlyMap<string, readonly ImportEdge[]>, unit: (file: string) => string | undefined, keep: (e: ImportEdge) => boolean = () => true): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const [from, edges] of graph) {
    const a = unit(from);
    if (a === undefined) continue;
    if (!out.has(a)) out.set(a, new Set());
    for (const e of edges) {
      const b = unit(e.to);
      if (b !== undefined && b !== a && keep(e)) out.get(a)!.add(b);
    }
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}
