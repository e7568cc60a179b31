// Doctor: the findings of `kubectl multinic doctor` (or `doctor pod` from the Pods view), severity
// first, from the doctor's own gatherer and registry; Enter shows a finding's cause and fix.
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { summaryLine } from '../../lib/doctor/report.js';
import type { Finding } from '../../lib/doctor/types.js';
import type { Health } from '../../lib/ui/model.js';
import { type UiState, current, findingOf, rowsOf, scrollStart } from '../../lib/ui/state.js';
import type { Theme } from '../theme.js';
import { Filler, Line, type Segment, fit } from './text.js';

const health = (f: Finding): Health => (f.severity === 'fail' ? 'fail' : f.severity === 'warn' ? 'warn' : 'none');
const whereText = (f: Finding): string => [f.where.network, f.where.node, f.where.nic, f.where.pod].filter(Boolean).join(' ') || 'cluster';

export function DoctorView({ state, theme, height, width }: { state: UiState; theme: Theme; height: number; width: number }): ReactNode {
  const f = current(state);
  const d = state.doctor;
  const r = d.report;
  const lines: Segment[][] = [];
  if (d.phase === 'running') lines.push([{ text: `  running the doctor${d.pod ? ` on pod ${d.pod}` : ''}: asking every agent to probe its node…`, bold: true }]);
  else if (d.phase === 'failed') lines.push([{ text: `  doctor failed: ${d.error}   r runs it again`, health: 'fail', bold: true }]);
  if (r && d.phase !== 'running') lines.push([{ text: `  ${summaryLine(r)}`, bold: true, health: r.summary.fail ? 'fail' : r.summary.warn ? 'warn' : 'ok' }]);
  const rows = rowsOf(state, f);
  const w = { sev: 8, check: 20, where: 22 };
  if (r) {
    lines.push([{ text: `  ${fit('SEV', w.sev)}${fit('CHECK', w.check)}${fit('WHERE', w.where)}SEEN`, bold: true }]);
    const room = height - lines.length;
    const start = scrollStart(f.sel, rows.length, room);
    rows.slice(start, start + room).forEach((key, i) => {
      const x = r.findings[Number(key)] as Finding;
      const sel = start + i === f.sel;
      lines.push([
        { text: sel ? '› ' : '  ', bold: true },
        { text: fit(`${theme.mark[health(x)]}${x.severity}`, w.sev), health: health(x), inverse: sel },
        { text: fit(x.check, w.check) },
        { text: fit(whereText(x), w.where) },
        { text: fit(x.seen, Math.max(10, width - w.sev - w.check - w.where - 2)) },
      ]);
    });
    if (!rows.length) lines.push([{ text: f.filter ? `  no finding matches "${f.filter}"` : '  no findings: every check passed', dim: !!f.filter, health: f.filter ? undefined : 'ok' }]);
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

/** Words of `text` in lines of at most `width` columns, each prefixed with `indent`. */
export function wrap(text: string, width: number, indent: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out;
}

export function FindingView({ state, theme, height, width }: { state: UiState; theme: Theme; height: number; width: number }): ReactNode {
  const x = findingOf(state);
  if (!x) return <Line theme={theme} segments={[{ text: '  that finding is gone (the doctor ran again)', dim: true }]} />;
  const lines: Segment[][] = [
    [{ text: `  ${theme.mark[health(x)]}${x.severity}`, health: health(x), bold: true }, { text: `  ${x.check}  ${whereText(x)}` }],
    [{ text: ' ' }],
    [{ text: '  SEEN', bold: true }],
    ...wrap(x.seen, width, '    ').map((t): Segment[] => [{ text: t }]),
    [{ text: '  CAUSE', bold: true }],
    ...wrap(x.cause, width, '    ').map((t): Segment[] => [{ text: t }]),
    [{ text: '  FIX', bold: true }],
    ...wrap(x.fix, width, '    ').map((t): Segment[] => [{ text: t, health: 'ok' }]),
  ];
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
