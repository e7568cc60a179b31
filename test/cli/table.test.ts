import { describe, expect, it } from 'vitest';
import { renderTable, useColor, visibleWidth } from '../../src/cli/table.js';

describe('renderTable', () => {
  it.each([
    ['left-aligned columns, three spaces apart, trailing spaces trimmed', [{ header: 'HOST' }, { header: 'POD CIDR' }], [['host1', '192.168.0.0/24'], ['h2', '10.0.0.0/8']], {}, 'HOST    POD CIDR\nhost1   192.168.0.0/24\nh2      10.0.0.0/8\n'],
    ['right alignment for numbers', [{ header: 'NAME' }, { header: 'N', align: 'right' as const }], [['a', '5'], ['b', '1234']], {}, 'NAME      N\na         5\nb      1234\n'],
    ['empty and missing cells show "-", so columns stay countable for awk and cut', [{ header: 'A' }, { header: 'B' }, { header: 'C' }], [['x'], ['y', '', 'z']], {}, 'A   B   C\nx   -   -\ny   -   z\n'],
    ['no header line (--no-headers)', [{ header: 'HOST' }, { header: 'N', align: 'right' as const }], [['a', '5'], ['bb', '10']], { headers: false }, 'a     5\nbb   10\n'],
    ['no rows: headers only', [{ header: 'A' }], [], {}, 'A\n'],
    ['indent', [{ header: 'A' }], [['x']], { indent: 2 }, '  A\n  x\n'],
    ['colour: bold headers only', [{ header: 'A' }, { header: 'B' }], [['xx', 'y']], { color: true }, '\u001b[1mA\u001b[22m    \u001b[1mB\u001b[22m\nxx   y\n'],
  ])('%s', (_n, cols, rows, opts, want) => {
    expect(renderTable(cols, rows, opts)).toBe(want);
  });
  it('measures width without ANSI escapes, so coloured cells still align', () => {
    expect(visibleWidth('\u001b[31mred\u001b[39m')).toBe(3);
    expect(renderTable([{ header: 'A' }, { header: 'B' }], [['\u001b[31mred\u001b[39m', 'x'], ['abcd', 'y']])).toBe('A      B\n\u001b[31mred\u001b[39m    x\nabcd   y\n');
  });
  it('counts a character outside the BMP once, with and without escapes; plain text by its length', () => {
    expect(visibleWidth('h\u{1F600}st')).toBe(4);
    expect(visibleWidth('\u001b[1m\u{1F600}\u001b[22m')).toBe(1);
    expect(visibleWidth('node-0001 10.0.0.0/24 (254)')).toBe(27);
    expect(visibleWidth('n\u00e9\u4e2d')).toBe(3);
    expect(renderTable([{ header: 'A' }, { header: 'B' }], [['\u{1F600}', 'x'], ['ab', 'y']])).toBe('A    B\n\u{1F600}    x\nab   y\n');
  });
});

describe('useColor', () => {
  it.each([
    ['a TTY', true, false, {}, true],
    ['not a TTY (pipe, file)', false, false, {}, false],
    ['--no-color', true, true, {}, false],
    ['NO_COLOR set', true, false, { NO_COLOR: '1' }, false],
    ['FORCE_COLOR=0', true, false, { FORCE_COLOR: '0' }, false],
  ])('%s', (_n, isTTY, flag, env, want) => {
    expect(useColor({ isTTY }, flag, env)).toBe(want);
  });
});
