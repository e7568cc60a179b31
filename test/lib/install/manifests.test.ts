// deploy/manifests/ against install's renderer: the committed files are byte for byte what
// scripts/gen-manifests.mjs writes from src/lib/install/manifests.ts (so they cannot go stale), and
// the real kubectl's built-in kustomize reads both kustomizations back into exactly those objects.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { renderData } from '../../../src/cli/output.js';
import { GENERATED_HEADER, MANIFESTS_DIR, staticManifests } from '../../../src/lib/install/manifests.js';
import { renderInstall } from '../../../src/lib/install/render.js';

const root = join(import.meta.dirname, '../../..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const base = join(root, MANIFESTS_DIR);
const files = staticManifests(version);
const hasKubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].some(existsSync);

function committed(dir = base): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? committed(join(dir, e.name)) : [relative(base, join(dir, e.name))]));
}

describe('deploy/manifests', () => {
  it('holds exactly the rendered files, each as scripts/gen-manifests.mjs writes it (else: make generate)', async () => {
    expect(committed().sort(), 'files in deploy/manifests (run make generate)').toEqual(files.map((f) => f.path).sort());
    for (const f of files) {
      const text = GENERATED_HEADER + (await Promise.all(f.objects.map((o) => renderData(o, 'yaml')))).map((d) => `---\n${d}`).join('');
      expect(readFileSync(join(base, f.path), 'utf8'), `${MANIFESTS_DIR}/${f.path} is stale: run make generate`).toBe(text);
    }
  });

  it('is install with its defaults: every object install applies, one file per kind, monitoring apart', () => {
    const kinds = (p: string) => files.find((f) => f.path === p)!.objects.map((o) => o.kind);
    expect(new Set(kinds('crds.yaml'))).toEqual(new Set(['CustomResourceDefinition']));
    expect(kinds('daemonset.yaml')).toEqual(['DaemonSet']);
    const installed = renderInstall({ version, podMonitor: true, prometheusRule: true }).map((o) => `${o.kind}/${o.metadata?.name}`).sort();
    const generated = files.flatMap((f) => f.objects).filter((o) => o.kind !== 'Kustomization').map((o) => `${o.kind}/${o.metadata?.name}`).sort();
    expect(generated).toEqual(installed);
  });

  it.skipIf(!hasKubectl)('kubectl kustomize reads each kustomization back into the generated objects', () => {
    for (const dir of ['', 'monitoring']) {
      const out = execFileSync('kubectl', ['kustomize', join(base, dir)], { encoding: 'utf8' });
      const got = parseAllDocuments(out).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
      const want = files.filter((f) => (dir ? f.path.startsWith(`${dir}/`) : !f.path.includes('/'))).flatMap((f) => f.objects).filter((o) => o.kind !== 'Kustomization');
      const key = (o: { kind?: string; metadata?: { name?: string } }) => `${o.kind}/${o.metadata?.name}`;
      expect(got.map(key).sort()).toEqual(want.map(key).sort());
      for (const w of want) expect(got.find((g) => key(g) === key(w)), key(w)).toEqual(JSON.parse(JSON.stringify(w)));
    }
  });
});
