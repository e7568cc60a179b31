// What each delegate binary answered to VERSION, kept on the host between plugin processes. Every
// CNI call is its own process, so an in-process cache asks each delegate VERSION once per ADD and
// once per DEL: one more Go exec (~2 ms CPU) for every pod attachment. The answer is a property of
// the binary file, so it is kept with the file's identity (device, inode, size, mtime, ctime: any
// replacement or rewrite changes it) and asked again whenever that changes.
//
// The memory can only steer which CNI version a delegate is run in, and only among the versions
// this plugin speaks (negotiateVersion); nothing read here reaches a path, an argv or a shell. A
// file is believed only when it is a regular file of ours (owned by our uid, not group- or
// world-writable, opened without following links) that names the same binary and identity.
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, constants } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { CniCode, CniError } from '../lib/cni/errors.js';

/** Where the shipped plugin keeps it: beside libcni's result cache and host-local's leases. */
export const DEFAULT_VERSION_DIR = '/var/lib/cni/multinic/delegate-versions';

export interface VersionMemory {
  /** The remembered answer of the binary at `path` with identity `stamp`, else undefined. */
  read(path: string, stamp: string): string[] | undefined;
  /** Remembers an answer; best effort (a read-only or foreign directory just keeps nothing). */
  write(path: string, stamp: string, versions: readonly string[]): void;
  /** Drops what is remembered for `path` (a delegate refused the version it said it speaks). */
  forget(path: string): void;
}

/** The identity of the file at `path`, or undefined when it cannot be read. */
export function binaryStamp(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

const VERSION = /^\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const MAX_FILE = 4096;

/** A VERSION answer's list when it is one: at most 32 dotted versions. */
export function versionList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length <= 32 && v.every((x) => typeof x === 'string' && VERSION.test(x)) ? (v as string[]) : undefined;
}

/** FNV-1a of the path: a short, stable file name per binary path (the file names its path too). */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

const fileFor = (dir: string, path: string): string => join(dir, `${basename(path).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64)}-${fnv1a(path)}.json`);

const uid = (): number | undefined => process.geteuid?.();

/** Ours: owned by our uid and writable by nobody else. */
const ours = (st: { uid: number; mode: number }): boolean => st.uid === uid() && (st.mode & 0o022) === 0;

function readOurs(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || !ours(st) || st.size > MAX_FILE) return undefined;
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, st.size, 0);
    return buf.toString('utf8', 0, n);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The memory in `dir`, one small JSON file per delegate path. */
export function fileVersionMemory(dir: string): VersionMemory {
  let dirOk: boolean | undefined;
  const usableDir = (): boolean => {
    if (dirOk !== undefined) return dirOk;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = lstatSync(dir);
      dirOk = st.isDirectory() && ours(st);
    } catch {
      dirOk = false;
    }
    return dirOk;
  };
  return {
    read(path, stamp) {
      const text = readOurs(fileFor(dir, path));
      if (text === undefined) return undefined;
      try {
        const o = JSON.parse(text) as { path?: unknown; stamp?: unknown; supportedVersions?: unknown };
        return o.path === path && o.stamp === stamp ? versionList(o.supportedVersions) : undefined;
      } catch {
        return undefined;
      }
    },
    write(path, stamp, versions) {
      if (!usableDir()) return;
      const file = fileFor(dir, path);
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
      try {
        writeFileSync(tmp, `${JSON.stringify({ path, stamp, supportedVersions: versions })}\n`, { flag: 'wx', mode: 0o600 });
        renameSync(tmp, file);
      } catch {
        try {
          unlinkSync(tmp);
        } catch {
          // never created
        }
      }
    },
    forget(path) {
      try {
        unlinkSync(fileFor(dir, path));
      } catch {
        // nothing remembered
      }
    },
  };
}

/**
 * MULTINIC_CNI_VERSION_DIR: where the plugin remembers its delegates' VERSION answers (default
 * DEFAULT_VERSION_DIR); `off` remembers nothing. The runtime sets the environment; a value that is
 * not an absolute path without ".." is refused with the CNI error naming it.
 */
export function versionDirFrom(v: string | undefined): { dir?: string; error?: CniError } {
  if (v === undefined || v === '') return { dir: DEFAULT_VERSION_DIR };
  if (v === 'off') return {};
  if (!isAbsolute(v) || v.split('/').includes('..') || v.includes('\0') || v.length > 512) {
    return {
      error: new CniError(CniCode.InvalidEnv, `MULTINIC_CNI_VERSION_DIR ${JSON.stringify(v.slice(0, 80))} is not an absolute directory path without ".."`, `unset it (the plugin then uses ${DEFAULT_VERSION_DIR}), set "off", or name an absolute directory`),
    };
  }
  return { dir: v };
}
