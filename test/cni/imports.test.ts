// Every pod attachment starts a fresh `multi-nic` process, so what src/cni/main.ts loads is a
// contract: node built-ins and our own modules only (no execa, yaml, client-node, ipaddr.js...).
// Walks the real import graph of the source, following relative imports.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function importGraph(entry: string): { files: string[]; bare: string[] } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    // Static imports and re-exports, including type-only ones (those vanish at runtime: skipped).
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
      if (m[2]) continue;
      const spec = (m[3] ?? m[4] ?? m[5]) as string;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else bare.add(spec);
    }
  };
  visit(join(root, entry));
  return { files: [...files].map((f) => f.slice(root.length)).sort(), bare: [...bare].sort() };
}

describe('multi-nic startup import graph', () => {
  const g = importGraph('src/cni/main.ts');

  it('loads only node: built-ins besides our modules', () => {
    expect(g.bare.filter((s) => !s.startsWith('node:'))).toEqual([]);
  });

  it('stays inside src/cni, src/lib/cni, the agent protocol and the exec helper', () => {
    const allowed = /^src\/(cni\/|lib\/cni\/|lib\/agent\/protocol\.ts$|host\/exec\.ts$)/;
    expect(g.files.filter((f) => !allowed.test(f))).toEqual([]);
    // The walk really follows imports (a broken regex would pass the checks above vacuously).
    expect(g.files).toEqual(expect.arrayContaining(['src/cni/skel.ts', 'src/cni/netns.ts', 'src/host/exec.ts', 'src/lib/cni/config.ts', 'src/lib/cni/result.ts']));
    expect(g.bare).toEqual(expect.arrayContaining(['node:child_process', 'node:net']));
    expect(g.bare).not.toContain('node:http');
  });
});
