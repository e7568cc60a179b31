#!/usr/bin/env node
// Writes deploy/manifests/ (one YAML file per kind plus kustomization.yaml; monitoring/ apart) from
// install's renderer (src/lib/install/manifests.ts, built to dist/), for GitOps. `--check` exits 1
// when a committed file is stale, missing or extra, so the manifests cannot drift from `install`.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { staticManifests, MANIFESTS_DIR, GENERATED_HEADER } = await import(join(root, 'dist/lib/install/manifests.js'));
const { renderData } = await import(join(root, 'dist/cli/output.js'));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const base = join(root, MANIFESTS_DIR);

const want = new Map();
for (const f of staticManifests(version)) {
  const docs = await Promise.all(f.objects.map((o) => renderData(o, 'yaml')));
  want.set(f.path, GENERATED_HEADER + docs.map((d) => `---\n${d}`).join(''));
}

const have = new Map();
const walk = (dir) => {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else have.set(relative(base, p), readFileSync(p, 'utf8'));
  }
};
walk(base);

if (process.argv.includes('--check')) {
  const stale = [...want].filter(([p, t]) => have.get(p) !== t).map(([p]) => p);
  const extra = [...have.keys()].filter((p) => !want.has(p));
  if (stale.length || extra.length) {
    console.error(`${MANIFESTS_DIR} is stale (${[...stale, ...extra].join(', ')}): run 'make generate'`);
    process.exit(1);
  }
} else {
  for (const p of have.keys()) if (!want.has(p)) rmSync(join(base, p));
  for (const [p, t] of want) {
    mkdirSync(dirname(join(base, p)), { recursive: true });
    writeFileSync(join(base, p), t);
  }
}
