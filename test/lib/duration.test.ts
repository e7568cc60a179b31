import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/lib/duration.js';

describe('parseDuration (kubectl / Go syntax)', () => {
  it.each([
    ['30', 30_000],
    ['0', 0],
    ['500ms', 500],
    ['90s', 90_000],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['2h45m', 9_900_000],
    ['1.5h', 5_400_000],
    ['1h0m0.5s', 3_600_500],
    ['250us', 0.25],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'abc', '5x', '1m30', 'm', '-5s', '1 m'])('refuses %j with a hint', (text) => {
    expect(() => parseDuration(text, '--timeout')).toThrow(`invalid --timeout "${text}"`);
  });
});
