import { describe, expect, it } from 'vitest';
import { negotiateVersion } from '../../../src/lib/cni/version.js';

describe('negotiateVersion: the highest version the config and the delegate share', () => {
  const debian = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'];
  it.each([
    ['1.1.0', debian, '1.0.0'],
    ['1.0.0', debian, '1.0.0'],
    ['0.4.0', debian, '0.4.0'],
    ['1.1.0', ['0.3.1', '0.4.0'], '0.4.0'],
    ['1.1.0', ['1.0.0', '1.1.0'], '1.1.0'],
    ['0.3.0', ['1.0.0'], undefined],
    ['1.1.0', ['0.1.0', '0.2.0'], undefined],
  ] as const)('config %s, delegate %j -> %s', (asked, supports, want) => {
    expect(negotiateVersion(asked, supports)).toBe(want);
  });
});
