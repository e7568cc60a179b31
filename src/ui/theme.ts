// Colours and symbols of the TUI, in one place. With colour off (NO_COLOR, --no-color) the state of
// a cell or row is carried by a symbol instead, so nothing is told by colour alone.
import type { Health } from '../lib/ui/model.js';

export interface Theme {
  color: boolean;
  /** Ink colour names per health (undefined: the terminal's default). */
  health: Record<Health, string | undefined>;
  /** Prefix per health: empty with colour, a symbol without. */
  mark: Record<Health, string>;
  accent: string | undefined;
  dim: boolean;
}

export function theme(color: boolean): Theme {
  return color
    ? { color, health: { ok: 'green', warn: 'yellow', fail: 'red', none: 'gray' }, mark: { ok: '', warn: '', fail: '', none: '' }, accent: 'cyan', dim: true }
    : { color, health: { ok: undefined, warn: undefined, fail: undefined, none: undefined }, mark: { ok: '✓ ', warn: '! ', fail: '✗ ', none: '· ' }, accent: undefined, dim: false };
}
