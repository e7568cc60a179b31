#!/usr/bin/env node
// Writes docs/troubleshooting.md from the doctor's check registry (src/lib/doctor/docs.ts, built to
// dist/). `--check` exits 1 when the committed page is stale, so the docs cannot drift from the code.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'docs/troubleshooting.md');
const { renderTroubleshooting } = await import(join(root, 'dist/lib/doctor/docs.js'));
const text = renderTroubleshooting();
if (process.argv.includes('--check')) {
  let cur = '';
  try { cur = readFileSync(target, 'utf8'); } catch { /* missing */ }
  if (cur !== text) {
    console.error("docs/troubleshooting.md is stale: run 'make generate'");
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
}
