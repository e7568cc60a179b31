import { describe, expect, it } from 'vitest';
import { editDistance, suggest } from '../../src/lib/suggest.js';

describe('suggest', () => {
  it.each([
    ['status', 'status', 0],
    ['statsu', 'status', 1], // a transposition is one edit
    ['stat', 'status', 2],
    ['plna', 'plan', 1],
    ['', 'plan', 4],
  ])('editDistance(%s, %s) = %i', (a, b, d) => expect(editDistance(a, b)).toBe(d));

  const known = ['apply', 'check', 'install', 'lab down', 'lab status', 'lab up', 'plan', 'status', 'uninstall', 'version'];
  it.each([
    ['statsu', ['status']],
    ['lab upp', ['lab up']],
    ['instal', ['install']],
    ['lab', ['lab down', 'lab status', 'lab up', 'plan']],
    ['frobnicate', []],
  ])('%s -> %j', (typed, want) => expect(suggest(typed, known)).toEqual(want));
});
