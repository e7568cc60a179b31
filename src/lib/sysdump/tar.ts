// A minimal POSIX ustar writer for `kubectl multinic sysdump`: regular files only, names up to 100
// bytes (the archive's own layout), mode 0644, one fixed mtime. Pure: entries in, tar bytes out
// (the command gzips them). Format: https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06

export interface TarEntry {
  /** Path inside the archive (ASCII, at most 100 bytes, no leading /, no ..). */
  name: string;
  data: Uint8Array;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** Whether `name` is a safe in-archive path: relative, no `..` or empty segment, printable ASCII, ≤ 100 bytes. */
export function validTarName(name: string): boolean {
  return name.length > 0 && name.length <= 100 && /^[A-Za-z0-9._/@+-]+$/.test(name) && !name.startsWith('/') && name.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (off: number, text: string) => h.set(Buffer.from(text, 'ascii'), off);
  put(0, name);
  put(100, octal(0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(Math.floor(mtime), 12));
  put(148, '        ');
  put(156, '0');
  put(257, 'ustar\u000000');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** The tar stream of `entries` in order (mtime in seconds since the epoch). Throws on a bad name. */
export function tarBytes(entries: readonly TarEntry[], mtime: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const e of entries) {
    if (!validTarName(e.name)) throw new Error(`invalid archive path "${e.name}"`);
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    parts.push(header(e.name, e.data.length, mtime), e.data, new Uint8Array(pad));
    total += BLOCK + e.data.length + pad;
  }
  parts.push(new Uint8Array(BLOCK * 2));
  total += BLOCK * 2;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
