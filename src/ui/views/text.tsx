// Layout helpers shared by the views: fixed-width cells (the views draw tables as text lines so a
// row never wraps, whatever the terminal width) and one coloured line.
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import type { Health } from '../../lib/ui/model.js';
import type { Theme } from '../theme.js';

/** `text` padded or cut (with …) to exactly `width` columns. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length > width) return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
  return text.padEnd(width);
}

/** Compact counts for narrow cells: 254, 65k, 4.3e9. */
export function shortCount(text: string): string {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 100_000) return text;
  if (n < 100_000_000) return `${Math.round(n / 1000)}k`;
  return n.toExponential(1).replace('+', '');
}

export interface Segment {
  text: string;
  health?: Health;
  bold?: boolean;
  inverse?: boolean;
  dim?: boolean;
}

/** One screen line of segments; never wraps (Ink truncates at the right edge). */
export function Line({ segments, theme }: { segments: Segment[]; theme: Theme }): ReactNode {
  return (
    <Text wrap="truncate-end">
      {segments.map((s, i) => (
        <Text key={i} color={s.health ? theme.health[s.health] : undefined} bold={s.bold} inverse={s.inverse} dimColor={s.dim && theme.dim}>
          {s.text}
        </Text>
      ))}
    </Text>
  );
}

/** Blank lines so every view fills its body (the status line then stays at the bottom). */
export function Filler({ count }: { count: number }): ReactNode {
  return count > 0 ? <Box height={count} /> : null;
}
