// Names that reach a path or an argv from a network config, CNI_* or the agent: each is checked
// here, once, before the plugin uses it. Pure: each check returns what is wrong (undefined when the
// name is fine) so callers can name the field and the fix in their own error.

/**
 * What a CNI plugin name may be: a bare file name looked up in CNI_PATH, as libcni's
 * `FindInPath` requires (https://github.com/containernetworking/cni/blob/main/pkg/invoke/find.go):
 * a `/` in a type lets whoever writes a config run any binary on the node as root (CVE-2021-20206).
 */
const PLUGIN_NAME = /^[A-Za-z0-9._-]+$/;

/** Why `name` cannot be a plugin to execute, or undefined when it can. */
export function pluginNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..' || !PLUGIN_NAME.test(name)) {
    return 'is not a plugin name (a bare file name in CNI_PATH: letters, digits, ".", "_" and "-", no "/")';
  }
  return undefined;
}

/** Why a CNI_PATH entry cannot be searched (relative entries would depend on the runtime's cwd). */
export function cniPathEntryProblem(dir: string): string | undefined {
  return dir.startsWith('/') ? undefined : 'is not an absolute directory';
}

/** Linux IFNAMSIZ - 1: the longest interface name in bytes. */
export const MAX_IFNAME_BYTES = 15;

const utf8 = new TextEncoder();

/**
 * Why `name` is not a Linux interface name, or undefined: the kernel's dev_valid_name() rules
 * (not empty, at most 15 bytes, not `.` or `..`, no `/`, `:` or whitespace), so a name that passes
 * here never reaches `ip` only to be refused, and never walks a /sys/class/net path.
 */
export function ifNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  const bytes = utf8.encode(name).length;
  if (bytes > MAX_IFNAME_BYTES) return `is ${bytes} bytes long (Linux allows ${MAX_IFNAME_BYTES})`;
  if (name === '.' || name === '..') return 'is not a valid interface name ("." and ".." are reserved)';
  // eslint-disable-next-line no-control-regex -- control characters are what the check refuses
  if (/[\s/:\u0000-\u001f\u007f]/.test(name)) return 'is not a valid interface name (no "/", ":", whitespace or control characters)';
  return undefined;
}

/**
 * Why `path` cannot be a unix socket path taken from a network config, or undefined: absolute and
 * normal (no `.`/`..` segments, no empty segments, no trailing `/`), so a config cannot aim the
 * plugin at a path outside what it names.
 */
export function socketPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  const segs = path.slice(1).split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return 'must be a normal absolute path (no "." or ".." segments, no "//", no trailing "/")';
  // eslint-disable-next-line no-control-regex -- control characters are what the check refuses
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'must not contain control characters';
  // sockaddr_un.sun_path is 108 bytes including the terminating NUL.
  if (utf8.encode(path).length > 107) return 'is longer than a unix socket path may be (107 bytes)';
  return undefined;
}

/**
 * The names `ip -batch` can take as one word: its parser reads `#` as a comment, quotes as grouping
 * and `\` as an escape, and splits on whitespace, so only the usual ifname alphabet
 * (letters, digits, ".", "_", "@", "-") within the kernel's rules is safe to interpolate.
 */
const BATCH_IFNAME = /^[A-Za-z0-9._@-]{1,15}$/;

/** Why `name` cannot be written into an `ip -batch` line, or undefined when it can. */
export function batchIfNameProblem(name: string): string | undefined {
  const bad = ifNameProblem(name);
  if (bad) return bad;
  return BATCH_IFNAME.test(name) ? undefined : 'has a character outside letters, digits, ".", "_", "@" and "-" (ip -batch would read it as syntax)';
}
