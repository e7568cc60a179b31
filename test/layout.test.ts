// The source tree stays one-way (README "Layout"): no import cycle between files, between src/'s
// top-level folders, or between the parts of src/lib (each sub-folder and each top-level file one
// part). A cycle that slips in fails here with the files or folders that form it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, importGraph, unitGraph } from './helpers/imports.js';

const src = join(import.meta.dirname, '..', 'src');
const graph = importGraph(src);
const rel = (f: string): string => relative(src, f).split(sep).join('/');

describe('import graph of src/', () => {
  it('is read (sanity: the parser finds the imports)', () => {
    const network = graph.get(join(src, 'lib', 'network.ts'))!.map((e) => rel(e.to));
    expect(network).toContain('lib/net/ip.ts');
    expect(graph.size).toBeGreaterThan(100);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
    expect(cycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('has no run-time import cycle between files (type-only imports are erased and do not count)', () => {
    const files = unitGraph(graph, rel, (e) => !e.typeOnly);
    expect(cycles(files)).toEqual([]);
  });

  it("has no import cycle between src/'s top-level folders", () => {
    const top = unitGraph(graph, (f) => rel(f).split('/')[0]);
    expect(cycles(top)).toEqual([]);
  });

  it('has no import cycle between the parts of src/lib (a sub-folder or a top-level file each), type imports included', () => {
    const part = (f: string): string | undefined => {
      const r = rel(f);
      if (!r.startsWith('lib/')) return undefined;
      const rest = r.slice('lib/'.length).split('/');
      return rest.length > 1 ? `lib/${rest[0]}/` : r;
    };
    expect(cycles(unitGraph(graph, part))).toEqual([]);
  });
});

describe('README\'s layout paragraph', () => {
  const root = join(src, '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const layout = readme.slice(readme.indexOf('Layout: '), readme.indexOf('The commands and flags are pinned'));
  const ignored = new Set(readFileSync(join(root, '.gitignore'), 'utf8').split('\n').map((l) => l.trim().replace(/\/$/, '')));
  const dirs = (d: string) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.') && !ignored.has(e.name)).map((e) => e.name).sort();

  it('is found', () => expect(layout.length).toBeGreaterThan(200));

  it('names every folder of src/', () => {
    expect(dirs(src).filter((d) => !layout.includes(`\`src/${d}\``))).toEqual([]);
  });

  it('names every top-level folder of the repository', () => {
    expect(dirs(root).filter((d) => d !== 'src' && !layout.includes(`\`${d}/\``))).toEqual([]);
  });
});
