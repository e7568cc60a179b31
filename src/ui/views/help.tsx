// The `?` overlay: every key of the current view (from keysFor, the reducer's own list).
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { type UiState, current, keysFor } from '../../lib/ui/state.js';
import type { Theme } from '../theme.js';
import { Filler, Line } from './text.js';

export function HelpView({ state, theme, height }: { state: UiState; theme: Theme; height: number }): ReactNode {
  const view = current(state).view;
  const keys = keysFor(view, state.check);
  const lines = [
    <Line key="t" theme={theme} segments={[{ text: `  keys: ${view} (any key closes)`, bold: true }]} />,
    ...keys.map(([k, what]) => <Line key={k} theme={theme} segments={[{ text: `  ${k.padEnd(12)}`, bold: true }, { text: what }]} />),
  ].slice(0, height);
  return (
    <Box flexDirection="column">
      {lines}
      <Filler count={height - lines.length} />
    </Box>
  );
}
