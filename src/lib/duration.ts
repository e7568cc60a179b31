// kubectl's durations: Go's time.ParseDuration syntax ("90s", "1m30s", "1.5h", "500ms", "2h45m"),
// and a bare number meaning seconds (as --request-timeout takes it). Pure.
import { UserError } from './errors.js';

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in `text`; a UserError naming `what` (e.g. the flag) when it is not a duration. */
export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const part = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < t.length) {
    part.lastIndex = at;
    const m = part.exec(t);
    if (!m) break;
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    at = part.lastIndex;
  }
  if (t === '' || at !== t.length) {
    throw new UserError(`invalid ${what} "${text}"`, { hint: 'use a number with units as kubectl does, e.g. 30s, 2m, 1m30s, 500ms, 1h (a bare number is seconds; 0 means no timeout)' });
  }
  return ms;
}
