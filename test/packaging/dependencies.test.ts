// package.json's runtime dependencies are what the shipped code imports, no more and no less: a
// dependency nothing imports is dead weight in every install (and in the image), and an import that is
// not declared works only while something else happens to pull the package in.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return /\.(ts|tsx|js|mjs)$/.test(name) || dir.endsWith('/bin') ? [p] : [];
  });
}

/** Package name of a bare specifier ('@a/b/c' -> '@a/b', 'ink/x' -> 'ink'); undefined for relative and builtin ones. */
function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every package the shipped code (src/, bin/) imports, with one file that does. */
function imported(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of [...files(join(root, 'src')), ...files(join(root, 'bin'))]) {
    const text = readFileSync(file, 'utf8');
    const specs = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    // JSX compiles to imports of react/jsx-runtime.
    if (file.endsWith('.tsx')) specs.push('react');
    for (const spec of specs) {
      const name = packageOf(spec);
      if (name && !found.has(name)) found.set(name, relative(root, file));
    }
  }
  return found;
}

describe('package.json dependencies', () => {
  const used = imported();

  it('declares only packages that src/ or bin/ imports', () => {
    const unused = Object.keys(pkg.dependencies).filter((name) => !used.has(name));
    expect(unused, 'declared in package.json but imported by nothing under src/ or bin/: import them in the commit that declares them, or npm uninstall them').toEqual([]);
  });

  it('declares every package that src/ or bin/ imports', () => {
    const undeclared = [...used].filter(([name]) => !(name in pkg.dependencies)).map(([name, file]) => `${name} (${file})`);
    expect(undeclared, 'imported but not declared in package.json: npm install them').toEqual([]);
  });
});
