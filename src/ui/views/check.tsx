// Check: pick a network and the host pairs, run `check`'s runner with live per-test progress, then
// the per-NIC Gbit/s matrix and the failures with their hints (what `kubectl multinic check` prints).
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { nicMatrices } from '../../lib/check/report.js';
import { type UiState, current, rowsOf, scrollStart } from '../../lib/ui/state.js';
import type { Health } from '../../lib/ui/model.js';
import type { Theme } from '../theme.js';
import { Filler, Line, type Segment, fit } from './text.js';

const statusHealth = (s: 'pass' | 'fail' | 'skip' | undefined): Health => (s === 'pass' ? 'ok' : s === 'fail' ? 'fail' : 'none');

export function CheckView({ state, theme, height, width }: { state: UiState; theme: Theme; height: number; width: number }): ReactNode {
  const f = current(state);
  const c = state.check;
  const lines: Segment[][] = [];
  if (c.phase === 'pick') {
    lines.push([{ text: `  pairs: ${c.pairs === 'ring' ? '[ring] all' : 'ring [all]'}   (p toggles; Enter runs on the selected network)`, bold: true }]);
    const nets = rowsOf(state, f);
    const start = scrollStart(f.sel, nets.length, height - 2);
    nets.slice(start, start + height - 2).forEach((n, i) => lines.push([{ text: `${start + i === f.sel ? '› ' : '  '}${n}`, inverse: start + i === f.sel }]));
    if (!nets.length) lines.push([{ text: state.data ? '  no MultiNicNetworks to check' : '  loading…', dim: true }]);
  } else {
    const verdict = c.report ? c.report.summary : undefined;
    const head =
      c.phase === 'running'
        ? `  checking ${c.network} (${c.pairs})${c.runId ? ` run ${c.runId}` : ''}: ${c.done}/${c.total || '?'} done   q cancels`
        : c.phase === 'cancelling'
          ? `  cancelling ${c.network}: ${c.cleanup ?? 'stopping the running tests'}…`
          : c.phase === 'failed'
            ? `  check of ${c.network} failed: ${c.error}`
            : `  ${verdict?.result === 'pass' ? 'PASS' : verdict?.result === 'interrupted' ? 'INTERRUPTED' : 'FAIL'}: ${verdict?.total} tests, ${verdict?.passed} passed, ${verdict?.failed} failed in ${verdict?.durationSeconds.toFixed(1)}s   Enter runs again`;
    lines.push([{ text: head, bold: true, health: c.phase === 'failed' || (c.phase === 'done' && verdict?.result !== 'pass') ? 'fail' : c.phase === 'done' ? 'ok' : undefined }]);
    if (c.report) {
      for (const m of nicMatrices(c.report)) {
        const colW = Math.max(8, ...m.servers.map((s) => s.length + 2));
        const firstW = Math.max(10, ...m.clients.map((s) => s.length + 4));
        lines.push([{ text: `  nic${m.index} ${m.netAddress}  Gbit/s client → server`, dim: true }]);
        lines.push([{ text: `  ${fit('', firstW)}${m.servers.map((s) => fit(s, colW)).join('')}`, bold: true }]);
        m.clients.forEach((cl, i) =>
          lines.push([{ text: `  ${fit(cl, firstW)}` }, ...m.servers.map((_, j) => ({ text: fit(m.cells[i]?.[j] ?? '-', colW), health: statusHealth(m.status[i]?.[j]) }))]),
        );
      }
      for (const t of c.report.tests.filter((x) => x.status === 'fail')) {
        lines.push([{ text: `  ${theme.mark.fail}${t.id} [${t.cause}]: ${t.summary}`, health: 'fail' }]);
        if (t.hint) lines.push([{ text: `    hint: ${t.hint}` }]);
      }
      if (c.leftovers.length) lines.push([{ text: `  pods still present: ${c.leftovers.join(', ')}`, health: 'warn' }]);
    } else {
      const room = height - lines.length - (c.cleanup ? 1 : 0);
      for (const r of c.results.slice(-Math.max(0, room))) {
        lines.push([{ text: `  ${r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'SKIP'} `, health: statusHealth(r.status) }, { text: fit(`${r.id}: ${r.summary}`, width - 8) }]);
      }
      if (c.cleanup) lines.push([{ text: `  ${c.cleanup}`, dim: true }]);
    }
  }
  const shown = lines.slice(0, height);
  return (
    <Box flexDirection="column">
      {shown.map((l, i) => (
        <Line key={i} theme={theme} segments={l} />
      ))}
      <Filler count={height - shown.length} />
    </Box>
  );
}
