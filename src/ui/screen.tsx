// The whole screen for one state: title (where you are), the current view, the command/filter line
// and the status line (context, API server, last update). A pure function of its props, so views
// are tested from fixed snapshots with ink-testing-library.
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { COMMANDS, type UiState, complete, current } from '../lib/ui/state.js';
import type { Theme } from './theme.js';
import { CellView } from './views/cell.js';
import { CheckView } from './views/check.js';
import { DoctorView, FindingView } from './views/doctor.js';
import { GridView } from './views/grid.js';
import { HelpView } from './views/help.js';
import { NetworksView } from './views/networks.js';
import { NodesView } from './views/nodes.js';
import { PodsView } from './views/pods.js';
import { Line, type Segment, fit } from './views/text.js';

export interface ScreenProps {
  state: UiState;
  theme: Theme;
  /** kubeconfig context name, for the status line. */
  context: string;
  server: string;
}

/** Lines the screen uses: one less than the terminal (Ink clears the whole terminal on every frame otherwise). */
export const screenLines = (rows: number): number => Math.max(6, rows - 1);

function title(s: UiState): string {
  const parts = s.stack.map((f) => {
    if (f.view === 'grid') return f.network ?? '';
    if (f.view === 'cell') return `${f.host} nic${f.interfaceIndex}`;
    if (f.view === 'doctor') return s.doctor.pod ? `doctor pod ${s.doctor.pod}` : 'doctor';
    if (f.view === 'finding') return `finding ${(f.finding ?? 0) + 1}`;
    return f.view;
  });
  const f = current(s);
  return ` multinic ▸ ${parts.join(' › ')}${f.filter ? `  /${f.filter}` : ''}`;
}

export function Screen({ state, theme, context, server }: ScreenProps): ReactNode {
  const { columns } = state.size;
  const lines = screenLines(state.size.rows);
  const height = lines - 3;
  const f = current(state);
  const props = { state, theme, height, width: columns };
  const body = state.help ? (
    <HelpView {...props} />
  ) : f.view === 'networks' ? (
    <NetworksView {...props} />
  ) : f.view === 'grid' ? (
    <GridView {...props} />
  ) : f.view === 'cell' ? (
    <CellView {...props} />
  ) : f.view === 'nodes' ? (
    <NodesView {...props} />
  ) : f.view === 'pods' ? (
    <PodsView {...props} />
  ) : f.view === 'doctor' ? (
    <DoctorView {...props} />
  ) : f.view === 'finding' ? (
    <FindingView {...props} />
  ) : (
    <CheckView {...props} />
  );
  let prompt: Segment[];
  if (state.command) {
    const c = complete(state.command.text);
    const hint = c.candidates.length ? c.candidates.join(' ') : COMMANDS.map((x) => x.words[0]).join(' ');
    prompt = [{ text: `:${state.command.text}▌`, bold: true }, { text: `   ${hint}`, dim: true }];
  } else if (state.filtering) prompt = [{ text: `/${f.filter}▌`, bold: true }, { text: '   Enter keeps, Esc clears', dim: true }];
  else if (state.flash) prompt = [{ text: ` ${state.flash}`, health: 'warn' }];
  else prompt = [{ text: ' Enter open  Esc back  / filter  : command  ? help  q quit', dim: true }];
  const updated = state.updatedAt ? `updated ${new Date(state.updatedAt).toISOString().slice(11, 19)}Z` : 'loading…';
  const status: Segment[] = [
    { text: fit(` ${context} │ ${server} │ ${updated}`, state.error ? Math.min(columns, 60) : columns), inverse: true },
    ...(state.error ? [{ text: fit(` ${state.error}`, columns - 60), health: 'fail' as const, inverse: true }] : []),
  ];
  return (
    <Box flexDirection="column" width={columns} height={lines}>
      <Line theme={theme} segments={[{ text: fit(title(state), columns), bold: true, health: undefined }]} />
      {body}
      <Line theme={theme} segments={prompt} />
      <Line theme={theme} segments={status} />
    </Box>
  );
}
