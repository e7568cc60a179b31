// Networks: one row per MultiNicNetwork with what `status` says of it.
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { networkRows } from '../../lib/ui/model.js';
import { type UiState, current, rowsOf, scrollStart } from '../../lib/ui/state.js';
import type { Theme } from '../theme.js';
import { Filler, Line, fit, shortCount } from './text.js';

export function NetworksView({ state, theme, height, width }: { state: UiState; theme: Theme; height: number; width: number }): ReactNode {
  const f = current(state);
  const names = rowsOf(state, f);
  const all = state.data ? networkRows(state.data, state.report) : [];
  const rows = names.map((n) => all.find((r) => r.name === n)).filter((r) => r !== undefined);
  const w = { name: Math.max(8, Math.min(24, ...rows.map((r) => r.name.length + 4))), mode: 13, ready: 9, hosts: 7, pool: 12, routes: 12 };
  const problemW = Math.max(10, width - w.name - w.mode - w.ready - w.hosts - w.pool - w.routes - 2);
  const header = `  ${fit('NAME', w.name)}${fit('PLUGIN', w.mode)}${fit('READY', w.ready)}${fit('HOSTS', w.hosts)}${fit('POOL USE', w.pool)}${fit('ROUTES', w.routes)}${fit('LAST PROBLEM', problemW)}`;
  const body = height - 1;
  const start = scrollStart(f.sel, rows.length, body);
  const shown = rows.slice(start, start + body);
  return (
    <Box flexDirection="column">
      <Line theme={theme} segments={[{ text: header, bold: true }]} />
      {rows.length === 0 ? (
        <Line theme={theme} segments={[{ text: state.data ? (f.filter ? `  no network matches "${f.filter}"` : '  no MultiNicNetworks (kubectl multinic apply -f NETWORK.yaml)') : '  loading…', dim: true }]} />
      ) : null}
      {shown.map((r, i) => {
        const selected = start + i === f.sel;
        return (
          <Line
            key={r.name}
            theme={theme}
            segments={[
              { text: selected ? '› ' : '  ', bold: true },
              { text: fit(`${theme.mark[r.health]}${r.name}`, w.name), health: r.health, inverse: selected },
              { text: fit(r.mode, w.mode) },
              { text: fit(r.ready ? 'Ready' : 'NotReady', w.ready), health: r.ready ? 'ok' : 'warn' },
              { text: fit(`${r.hostsReady}/${r.hosts}`, w.hosts) },
              { text: fit(`${r.used}/${shortCount(r.capacity)}`, w.pool) },
              { text: fit(`${theme.mark[r.routes.health]}${r.routes.text}`, w.routes), health: r.routes.health },
              { text: fit(r.problem || '-', problemW), health: r.problem ? 'warn' : undefined, dim: !r.problem },
            ]}
          />
        );
      })}
      <Filler count={body - shown.length - (rows.length === 0 ? 1 : 0)} />
    </Box>
  );
}
