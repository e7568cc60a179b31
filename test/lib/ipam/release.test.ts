// The release request's contract, both sides: what the agent accepts from the annotation (anything
// else is answered with an error and releases nothing) and what it does with each item.
import { describe, expect, it } from 'vitest';
import { MAX_RELEASE_ITEMS, decideRelease, parseReleaseRequest } from '../../../src/lib/ipam/release.js';
import type { Allocation } from '../../../src/lib/ipam/types.js';

const item = { network: 'n', pool: 'n-192.168.0.0-24', address: '192.168.0.5', podUID: 'u1', containerID: 'c1', interface: 'net1-0' };
const held: Allocation = { ...item, index: 5, podName: 'p', namespace: 'default' };

describe('parseReleaseRequest', () => {
  const rows: Array<[string, string, RegExp | undefined]> = [
    ['a valid request', JSON.stringify({ nonce: 'a-1', items: [item] }), undefined],
    ['not JSON', '{nonce', /is not JSON/],
    ['an array', '[]', /must be a JSON object/],
    ['a nonce with a space', JSON.stringify({ nonce: 'a b', items: [item] }), /nonce must be 1-128 characters/],
    ['no items', JSON.stringify({ nonce: 'a', items: [] }), /items must be a non-empty list/],
    ['force not a boolean', JSON.stringify({ nonce: 'a', force: 'yes', items: [item] }), /force must be true or false/],
    ['a shell word in an address', JSON.stringify({ nonce: 'a', items: [{ ...item, address: '1.2.3.4;reboot' }] }), /items\[0\]\.address must be/],
    ['an empty pool', JSON.stringify({ nonce: 'a', items: [{ ...item, pool: '' }] }), /items\[0\]\.pool must be/],
    ['too many items', JSON.stringify({ nonce: 'a', items: Array.from({ length: MAX_RELEASE_ITEMS + 1 }, () => item) }), /at most 256 items per request, got 257/],
  ];
  it.each(rows)('%s', (_name, text, err) => {
    const r = parseReleaseRequest(text);
    if (!err) expect(r).toEqual({ request: { nonce: 'a-1', force: false, items: [item] } });
    else expect('error' in r && r.error).toMatch(err);
  });
  it('keeps the nonce of a readable request with bad items, so it can be answered', () => {
    expect(parseReleaseRequest(JSON.stringify({ nonce: 'k', items: 3 }))).toEqual({ nonce: 'k', error: 'items must be a non-empty list' });
  });
  it('accepts empty pod UID and container (a runtime outside Kubernetes)', () => {
    expect('request' in parseReleaseRequest(JSON.stringify({ nonce: 'a', items: [{ ...item, podUID: '', containerID: '' }] }))).toBe(true);
  });
});

describe('decideRelease', () => {
  const gone = () => undefined;
  const alive = () => 'pod default/p (uid u1) is Running on this node';
  it('releases the very allocation asked about when its pod is gone', () => {
    expect(decideRelease(item, [held], gone, false)).toEqual({ release: held, outcome: { ...item, pod: 'default/p', outcome: 'released' } });
  });
  it('refuses a live holder unless forced', () => {
    expect(decideRelease(item, [held], alive, false).outcome).toMatchObject({ outcome: 'refused', reason: 'pod default/p (uid u1) is Running on this node; add --force to release it anyway' });
    expect(decideRelease(item, [held], alive, true).release).toBe(held);
  });
  it('refuses, even forced, an address now held by another allocation', () => {
    for (const other of [{ containerID: 'c2' }, { podUID: 'u2' }, { interface: 'net1-1' }, { network: 'm' }]) {
      const d = decideRelease(item, [{ ...held, ...other }], gone, true);
      expect(d.release).toBeUndefined();
      expect(d.outcome.outcome).toBe('refused');
      expect(d.outcome.reason).toMatch(/not the allocation asked about/);
    }
  });
  it('an address held twice: releases the holder asked about, not the first one found', () => {
    const other = { ...held, podUID: 'u9', containerID: 'c9' };
    expect(decideRelease(item, [other, held], gone, false).release).toBe(held);
  });
  it('an address already free is not-held', () => {
    expect(decideRelease(item, [], gone, false)).toEqual({ outcome: { ...item, outcome: 'not-held', reason: '192.168.0.5 is not held in pool n-192.168.0.0-24 (already released)' } });
  });
});
