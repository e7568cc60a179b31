// Reading manifest files for commands: paths or `-` for stdin, with errors that say what to do.
import { readFile } from 'node:fs/promises';
import { UserError } from '../lib/errors.js';
import { flattenLists, parseManifests, type ManifestDoc } from '../lib/manifest.js';

/** The text of a file, or of stdin for `-`. */
export async function readSource(path: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UserError(`cannot read ${path}: ${why}`, { hint: 'check the path, or pass - to read from stdin' });
  }
}

/** Parses a file's YAML/JSON documents, labelled by path (stdin as "stdin"). */
export async function readDocs(path: string): Promise<ManifestDoc[]> {
  return parseManifests(await readSource(path), path === '-' ? 'stdin' : path);
}

/** Every document of every file, v1 Lists flattened; stdin (`-`) can be read once. */
export async function readAllDocs(paths: readonly string[]): Promise<ManifestDoc[]> {
  if (paths.filter((p) => p === '-').length > 1) throw new UserError('-f - (stdin) can be given only once');
  const out: ManifestDoc[] = [];
  for (const p of paths) out.push(...flattenLists(await readDocs(p)));
  return out;
}
