// Network → grid: hosts (rows) x NIC networks (columns); each cell the host's pod block on that NIC,
// its pool use and its route state, coloured ok / warn / fail. Scrolls both ways (64 hosts, 32 NICs).
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { type GridCell, gridOf } from '../../lib/ui/model.js';
import { type UiState, current, rowsOf, scrollStart } from '../../lib/ui/state.js';
import type { Theme } from '../theme.js';
import { Filler, Line, type Segment, fit, shortCount } from './text.js';

/** Wide enough for `✗ 192.168.255.192/26 254/254 pending` cut to the essentials. */
export const CELL_WIDTH = 32;

const cellText = (c: GridCell, mark: string): string => (c.podCIDR ? `${mark}${c.podCIDR} ${c.used}/${shortCount(c.capacity)} ${c.route}` : c.health === 'none' ? '-' : `${mark}${c.nic || '-'} ${c.route}`);

export function GridView({ state, theme, height, width }: { state: UiState; theme: Theme; height: number; width: number }): ReactNode {
  const f = current(state);
  const grid = state.data ? gridOf(state.data, f.network ?? '', state.report) : undefined;
  if (!grid) return <Line theme={theme} segments={[{ text: state.data ? `  network ${f.network} not found` : '  loading…', dim: true }]} />;
  const hosts = rowsOf(state, f);
  const rows = hosts.map((h) => grid.rows.find((r) => r.host === h)).filter((r) => r !== undefined);
  const scrolls = grid.columns.length > Math.floor((width - 8) / CELL_WIDTH);
  const hostW = Math.max(scrolls ? 12 : 6, Math.min(18, ...rows.map((r) => r.host.length + 4)));
  const visibleCols = Math.max(1, Math.floor((width - hostW) / CELL_WIDTH));
  const c0 = scrollStart(f.col, grid.columns.length, visibleCols);
  const cols = grid.columns.slice(c0, c0 + visibleCols);
  const body = height - 1;
  const start = scrollStart(f.sel, rows.length, body);
  const shown = rows.slice(start, start + body);
  const more = grid.columns.length > visibleCols ? ` ${c0 + 1}-${c0 + cols.length}/${grid.columns.length}` : '';
  const header: Segment[] = [{ text: fit(`HOST${more}`, hostW), bold: true }, ...cols.map((c) => ({ text: fit(`nic${c.interfaceIndex} ${c.netAddress}`, CELL_WIDTH), bold: true }))];
  return (
    <Box flexDirection="column">
      <Line theme={theme} segments={header} />
      {rows.length === 0 ? <Line theme={theme} segments={[{ text: f.filter ? `  no host matches "${f.filter}"` : '  no host has a block yet (agents claim them after apply)', dim: true }]} /> : null}
      {shown.map((r, i) => {
        const selRow = start + i === f.sel;
        return (
          <Line
            key={r.host}
            theme={theme}
            segments={[
              { text: fit(`${selRow ? '›' : ' '}${theme.mark[r.health]}${r.host}`, hostW), health: r.health, bold: selRow },
              ...cols.map((col, j) => {
                const c = r.cells.find((x) => x.interfaceIndex === col.interfaceIndex);
                const selected = selRow && c0 + j === f.col;
                return { text: fit(c ? cellText(c, theme.mark[c.health]) : '-', CELL_WIDTH - 1) + ' ', health: c?.health, inverse: selected };
              }),
            ]}
          />
        );
      })}
      <Filler count={body - shown.length - (rows.length === 0 ? 1 : 0)} />
    </Box>
  );
}
