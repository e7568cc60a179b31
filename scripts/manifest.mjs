#!/usr/bin/env node
// Writes oclif.manifest.json with `oclif manifest`, then sorts its commands by id. oclif lists them in
// the order its file scan finishes, which varies from run to run: every build left the shipped file
// modified, and fast-forward merges touching it were refused until someone reverted it.
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const file = join(root, 'oclif.manifest.json');
const oclif = join(root, 'node_modules/.bin/oclif');

const r = spawnSync(oclif, ['manifest'], { cwd: root, encoding: 'utf8' });
if (r.status !== 0) {
  process.stderr.write(`oclif manifest failed (exit ${r.status}):\n${r.stderr}`);
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(file, 'utf8'));
const commands = Object.fromEntries(Object.keys(manifest.commands).sort().map((id) => [id, manifest.commands[id]]));
const text = JSON.stringify({ ...manifest, commands }, null, 2);
writeFileSync(`${file}.tmp`, text);
renameSync(`${file}.tmp`, file);
