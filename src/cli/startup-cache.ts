// The start-up cache of bin/kubectl-multinic: the text of an invocation that only prints (help,
// `version --client`), kept from the last run that printed it, so the next identical one is served
// without loading oclif. Loading oclif costs about five times Node's own start-up (most of it
// compiling its CommonJS files; bench/cli-startup), while these invocations print a fixed text.
//
// Contract: the cached text is exactly what the full CLI printed, byte for byte, and it is served
// only for the same key: argv, the installation (its directory, and the content of package.json and
// oclif.manifest.json: not their mtimes, which npm and the krew archives pin), the runtime (version, platform, arch), stdout (TTY or not, its width) and the
// whole environment but PWD, OLDPWD, SHLVL and _ (colour and width detection read env variables).
// A run is kept only when it exited 0 and wrote nothing to stderr. Entries live in
// $XDG_CACHE_HOME/kubectl-multinic/startup (default ~/.cache/...), one file per key; failing to
// read or write them only means the full CLI runs. MULTINIC_STARTUP_CACHE=0 turns it off.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { oclifDirname, oclifUserFiles } from './oclif-dirs.js';

const WORD = /^[a-z][a-z0-9-]*$/;

/** True for the invocations whose output is cached: `[WORDS...] --help`, `help [WORDS...]`, `version --client`. */
export function cacheable(argv: readonly string[]): boolean {
  if (argv.length === 2 && argv[0] === 'version' && argv[1] === '--client') return true;
  if (argv.length > 0 && argv.at(-1) === '--help') return argv.slice(0, -1).every((w) => WORD.test(w));
  if (argv[0] === 'help') return argv.slice(1).every((w) => WORD.test(w));
  return false;
}

/** What the output of an invocation depends on (see the file comment). */
export interface StartupContext {
  argv: readonly string[];
  /** The installation's root directory (holds package.json and oclif.manifest.json). */
  root: string;
  runtime: string;
  tty: boolean;
  columns: number;
  env: Readonly<Record<string, string | undefined>>;
}

const IGNORED_ENV = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);

/**
 * The cache key of an invocation: a hash over the context, the installation's package.json and
 * manifest, and the user's oclif theme and plugin list when present (they change oclif's help).
 * Not a cryptographic hash: the key only tells apart the handful of invocations a user runs (whoever
 * can write the cache directory can write its entries anyway), and node:crypto costs about 15 ms
 * to load on Node 24, a fifth of a cached `--help`. Two 32-bit lanes over the same bytes, 64 bits
 * in all: FNV-1a, and the same with Murmur's multiplier and another offset basis.
 */
export function startupKey(c: StartupContext): string {
  const h = new Hash64();
  h.text(JSON.stringify([c.argv, c.root, c.runtime, c.tty, c.columns]));
  const pjson = readFileSync(join(c.root, 'package.json'));
  h.text('\0package.json\0').bytes(pjson);
  h.text('\0oclif.manifest.json\0').bytes(readFileSync(join(c.root, 'oclif.manifest.json')));
  const dirname = oclifDirname(JSON.parse(pjson.toString('utf8')) as { name: string; oclif?: { dirname?: string } });
  for (const f of oclifUserFiles(c.env, dirname)) {
    let b: Buffer | undefined;
    try {
      b = readFileSync(f);
    } catch {
      b = undefined;
    }
    if (b) h.text(`\0${f}\0`).bytes(b);
  }
  for (const k of Object.keys(c.env).sort()) if (!IGNORED_ENV.has(k)) h.text(`\0${k}=${c.env[k] ?? ''}`);
  return h.hex();
}

/** A 64-bit non-cryptographic hash (see startupKey); strings are hashed as their UTF-8 bytes. */
export class Hash64 {
  private a = 0x811c9dc5;
  private b = 0x050c5d1f;

  text(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }

  bytes(buf: Uint8Array): this {
    let { a, b } = this;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i] as number;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    this.a = a;
    this.b = b;
    return this;
  }

  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }
}

/** The cache directory, or undefined when the cache is off. */
export function cacheDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (env.MULTINIC_STARTUP_CACHE === '0') return undefined;
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(base, 'kubectl-multinic', 'startup');
}

/** The context of this process's invocation; stdout's width as oclif measures it (80 when not a TTY). */
export function currentContext(root: string, argv: readonly string[]): StartupContext {
  const tty = Boolean(process.stdout.isTTY);
  const columns = tty ? (process.stdout.getWindowSize?.()[0] ?? 0) : 80;
  return { argv, root, runtime: `${process.version} ${process.platform} ${process.arch}`, tty, columns, env: process.env };
}

/**
 * Serves the invocation from the cache when it can (returns true: the text is written to stdout);
 * otherwise returns a function to call after the full CLI ran, which keeps its output when the run
 * qualifies. Never throws for cache trouble.
 */
export function startupCache(root: string, argv: readonly string[]): true | (() => void) | undefined {
  const dir = cacheDir(process.env);
  if (!dir || !cacheable(argv)) return undefined;
  let file: string;
  try {
    file = join(dir, startupKey(currentContext(root, argv)));
  } catch {
    return undefined;
  }
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    process.stdout.write(text);
    return true;
  }
  return record(dir, file);
}

function record(dir: string, file: string): () => void {
  const chunks: string[] = [];
  let dirty = false;
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return out(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    dirty = true;
    return err(chunk, ...rest);
  }) as typeof process.stderr.write;
  return () => {
    process.stdout.write = out;
    process.stderr.write = err;
    if (dirty || (process.exitCode ?? 0) !== 0 || chunks.length === 0) return;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, chunks.join(''), { mode: 0o600 });
      renameSync(tmp, file);
    } catch {
      // A read-only or full home: the next run is a full one again.
    }
  };
}
