// /etc/iproute2/rt_tables: other tools (and admins) keep their own entries in it, so we only ever add
// or remove the exact lines of tables we own and keep every other byte as it was. Pure: text in,
// text out; src/agent/routes.ts writes the result atomically.

export interface RtTableEntry {
  id: number;
  name: string;
}

/** Ids reserved by the kernel/iproute2 (unspec, default, main, local): never allocated. */
const RESERVED = new Set([0, 253, 254, 255]);
/** First id we allocate; below it is the admin's range by convention (upstream started at 100 too). */
export const FIRST_TABLE_ID = 100;
const MAX_TABLE_ID = 0x7fffffff;

/** Entries of the file: `<id> <name>` lines (decimal or 0x hex), comments and blanks skipped. */
export function parseRtTables(text: string): RtTableEntry[] {
  const out: RtTableEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(0x[0-9a-fA-F]+|\d+)\s+(\S+)/.exec(line);
    if (!m) continue;
    out.push({ id: Number(m[1]), name: m[2] as string });
  }
  return out;
}

/**
 * Table names must be one token (no spaces or '#'), not a number (it would read as an id) and not a
 * name iproute2 reserves. Kubernetes object names (DNS-1123, up to 253 characters) all qualify
 * unless purely numeric.
 */
export function validTableName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/.test(name) && !/^(0x[0-9a-fA-F]+|\d+)$/.test(name) && !['local', 'main', 'default', 'unspec', 'all'].includes(name);
}

/**
 * Ensures every name has an entry. A name already present keeps its id (ours from an earlier run,
 * or an admin's entry of that name); new names get the smallest free id ≥ 100 that no line uses.
 * Returns the new text (unchanged when nothing was added) and the id of every name.
 */
export function ensureTables(text: string, names: readonly string[]): { text: string; ids: Record<string, number>; added: RtTableEntry[] } {
  const entries = parseRtTables(text);
  const used = new Set(entries.map((e) => e.id));
  const ids: Record<string, number> = {};
  const added: RtTableEntry[] = [];
  let next = FIRST_TABLE_ID;
  for (const name of names) {
    if (!validTableName(name)) throw new Error(`"${name}" cannot be a routing table name (rt_tables)`);
    const have = entries.find((e) => e.name === name) ?? added.find((e) => e.name === name);
    if (have) {
      ids[name] = have.id;
      continue;
    }
    while (used.has(next) || RESERVED.has(next)) next++;
    if (next > MAX_TABLE_ID) throw new Error('no free routing table id in rt_tables');
    used.add(next);
    ids[name] = next;
    added.push({ id: next, name });
  }
  if (added.length === 0) return { text, ids, added };
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  return { text: `${text}${sep}${added.map((e) => `${e.id}\t${e.name}\n`).join('')}`, ids, added };
}

/** Removes the lines `<id> <name>` of exactly these entries; every other line stays as it was. */
export function removeTables(text: string, remove: readonly RtTableEntry[]): string {
  const lines = text.split('\n');
  const kept = lines.filter((raw) => {
    const m = /^\s*(0x[0-9a-fA-F]+|\d+)\s+(\S+)\s*(#.*)?$/.exec(raw);
    return !(m && remove.some((e) => e.id === Number(m[1]) && e.name === m[2]));
  });
  return kept.join('\n');
}
