// Where oclif keeps a user's settings on Linux and macOS (its Config.dir), for the two start-up
// paths that print without loading oclif: the fast path steps aside when they exist, and the
// start-up cache's key covers them.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** oclif's Config.dirname: package.json's `oclif.dirname`, else the package's name. */
export function oclifDirname(pjson: { name: string; oclif?: { dirname?: string } }): string {
  return pjson.oclif?.dirname || pjson.name;
}

/** oclif's Config.dir(category) on Linux and macOS. */
function oclifDir(env: Readonly<Record<string, string | undefined>>, category: 'config' | 'data', dirname: string): string {
  const home = env['HOME'] || homedir();
  const base = env[`XDG_${category.toUpperCase()}_HOME`] || join(home, category === 'data' ? '.local/share' : '.config');
  return join(base, dirname);
}

/**
 * The user's files that change what oclif prints: its theme (config dir) and its user plugins'
 * package.json (data dir), in that order.
 */
export function oclifUserFiles(env: Readonly<Record<string, string | undefined>>, dirname: string): [theme: string, plugins: string] {
  return [join(oclifDir(env, 'config', dirname), 'theme.json'), join(oclifDir(env, 'data', dirname), 'package.json')];
}
