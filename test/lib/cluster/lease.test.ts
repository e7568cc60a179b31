import { describe, expect, it } from 'vitest';
import { decideLease, leaseExpiry, microTime, releasedLease } from '../../../src/lib/cluster/lease.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);

describe('decideLease', () => {
  it('creates when there is no Lease', () => {
    expect(decideLease(undefined, false, 'a', 15, t0)).toEqual({ action: 'create', spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 0 } });
  });
  const held = { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: microTime(t0), renewTime: microTime(t0), leaseTransitions: 2 };
  it('the holder renews, keeping acquireTime and transitions', () => {
    const d = decideLease(held, true, 'a', 15, at(5));
    expect(d).toEqual({ action: 'renew', spec: { ...held, renewTime: microTime(at(5)) } });
  });
  it('others wait while it is fresh', () => {
    expect(decideLease(held, true, 'b', 15, at(14.999))).toEqual({ action: 'wait', holder: 'a', expiresAt: at(15) });
  });
  it('others take over once it expired, counting the transition', () => {
    const d = decideLease(held, true, 'b', 15, at(15));
    expect(d.action).toBe('takeover');
    if (d.action === 'takeover') expect(d.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 3, acquireTime: microTime(at(15)) });
  });
  it('a released lease is free at once', () => {
    const r = releasedLease(held, at(1));
    expect(leaseExpiry(r)).toBeUndefined();
    expect(decideLease(r, true, 'b', 15, at(1)).action).toBe('takeover');
  });
  it('an unreadable renewTime counts as expired', () => {
    expect(decideLease({ holderIdentity: 'a', renewTime: 'garbage' }, true, 'b', 15, t0).action).toBe('takeover');
  });
});
