// Host x NIC detail: the pod block, gateway, routes desired vs present (kernel truth when the agent
// publishes it), why the cell is not ok, and the allocations of its IPPool.
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { type CellDetail, cellDetail } from '../../lib/ui/model.js';
import { type UiState, current } from '../../lib/ui/state.js';
import type { Theme } from '../theme.js';
import { Filler, Line, type Segment } from './text.js';

function blockLines(d: CellDetail): Segment[][] {
  const c = d.cell;
  return [
    [{ text: `  host IP   ${d.hostIP}${d.gateway ? `   gateway (shim) ${d.gateway}` : ''}` }],
    [{ text: `  use       ${c.used}/${c.capacity} addresses` }],
    [
      { text: '  routes    ' },
      d.routesSource === 'none'
        ? { text: `${d.routesDesired} desired, none reported`, health: d.routesDesired ? 'warn' : undefined }
        : { text: `${d.routesPresent}/${d.routesDesired} present (${d.routesSource === 'kernel' ? 'kernel, read by the agent' : "the agent's report"})`, health: d.routesPresent === d.routesDesired ? 'ok' : 'fail' },
    ],
  ];
}

export function CellView({ state, theme, height }: { state: UiState; theme: Theme; height: number }): ReactNode {
  const f = current(state);
  const d = state.data ? cellDetail(state.data, f.network ?? '', f.host ?? '', f.interfaceIndex ?? -1, state.report) : undefined;
  if (!d) return <Line theme={theme} segments={[{ text: `  ${f.host} nic${f.interfaceIndex}: no longer in the network`, dim: true }]} />;
  const c = d.cell;
  const lines: Segment[][] = [
    [{ text: `  ${f.network}  ${c.host} × ${c.nic || '(no NIC)'} (nic${c.interfaceIndex}, ${c.netAddress})  ` }, { text: `${theme.mark[c.health]}${c.health}`, health: c.health, bold: true }],
    [{ text: c.podCIDR ? `  block     ${c.podCIDR}  pool ${d.pool}` : '  block     none on this host' }],
    ...(c.podCIDR ? blockLines(d) : []),
    ...d.missing.map((m): Segment[] => [{ text: `    missing ${m}`, health: 'fail' }]),
    ...c.reasons.map((r): Segment[] => [{ text: `  ${theme.mark[c.health]}${r}`, health: c.health }]),
    [{ text: ' ' }],
    [{ text: `  ALLOCATIONS (${d.allocations.length})`, bold: true }],
    ...(d.allocations.length ? d.allocations.map((a): Segment[] => [{ text: `  ${a.address.padEnd(18)} ${a.pod}${a.interface ? ` ${a.interface}` : ''}` }]) : [[{ text: '  none', dim: true }]]),
  ];
  const shown = lines.slice(0, height);
  if (lines.length > height) shown[height - 1] = [{ text: `  … ${lines.length - height + 1} more`, dim: true }];
  return (
    <Box flexDirection="column">
      {shown.map((l, i) => (
        <Line key={i} theme={theme} segments={l} />
      ))}
      <Filler count={height - shown.length} />
    </Box>
  );
}
