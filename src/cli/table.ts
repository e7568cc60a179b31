// A small column table for human output, shared by every command: kubectl-like (upper-case
// headers, columns separated by three spaces, no borders), alignment per column, and colour only
// when asked for (callers pass useColor(): TTY and no --no-color/NO_COLOR).

export interface Column {
  header: string;
  /** 'right' for numbers. Default 'left'. */
  align?: 'left' | 'right';
}

export interface TableOptions {
  /** Bold headers with ANSI escapes. Default false (plain text, safe for pipes and files). */
  color?: boolean;
  /** Spaces before every line. */
  indent?: number;
  /** Print the header line (default: tableDefaults.headers; `--no-headers` turns it off). */
  headers?: boolean;
}

/** Process-wide defaults set once from the global flags (BaseCommand.init): `--no-headers`. */
export const tableDefaults = { headers: true };

/** What an empty cell shows, as kubectl shows it (never a blank that shifts columns for awk/cut). */
export const EMPTY_CELL = '-';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

// eslint-disable-next-line no-control-regex
const SLOW = /[\u001b\uD800-\uDFFF]/;

/**
 * Display width of a cell: ANSI escapes do not count, a character outside the BMP counts once.
 * Without either, the width is the length (a status table at 4,096 x 8 has 70,000 cells, and
 * spreading each into code points was a third of the table's time).
 */
export function visibleWidth(s: string): number {
  if (!SLOW.test(s)) return s.length;
  return [...s.replace(ANSI, '')].length;
}

/**
 * Renders rows under the headers. Empty cells (and those missing from short rows) show EMPTY_CELL;
 * trailing spaces are trimmed so output diffs cleanly. Ends with a newline.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], opts: TableOptions = {}): string {
  const headers = opts.headers ?? tableDefaults.headers;
  const widths = columns.map((c, i) => Math.max(headers ? visibleWidth(c.header) : 0, ...rows.map((r) => visibleWidth(r[i] || EMPTY_CELL))));
  const pad = ' '.repeat(opts.indent ?? 0);
  const line = (cells: readonly string[], style: (s: string) => string): string =>
    pad +
    columns
      .map((c, i) => {
        const cell = cells[i] || EMPTY_CELL;
        const fill = ' '.repeat((widths[i] ?? 0) - visibleWidth(cell));
        return c.align === 'right' ? fill + style(cell) : style(cell) + fill;
      })
      .join('   ')
      .trimEnd();
  const bold = (s: string): string => (opts.color && s ? `\u001b[1m${s}\u001b[22m` : s);
  const out = [...(headers ? [line(columns.map((c) => c.header), bold)] : []), ...rows.map((r) => line(r, (s) => s))];
  return `${out.join('\n')}\n`;
}

/** Whether to colour output on `stream`: only a TTY, and never with --no-color or NO_COLOR set. */
export function useColor(stream: { isTTY?: boolean }, noColorFlag: boolean, env: Record<string, string | undefined>): boolean {
  return Boolean(stream.isTTY) && !noColorFlag && !env.NO_COLOR && env.FORCE_COLOR !== '0';
}
