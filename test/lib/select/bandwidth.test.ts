import { describe, expect, it } from 'vitest';
import { formatBandwidth, parseBandwidth } from '../../../src/lib/select/bandwidth.js';

describe('parseBandwidth (Mb/s)', () => {
  it.each([
    ['200Gbps', 200_000],
    ['200G', 200_000],
    ['1.6Tbps', 1_600_000],
    ['400000Mbps', 400_000],
    ['100 Gb/s', 100_000],
    ['500kbps', 0.5],
  ])('%s', (text, want) => expect(parseBandwidth(text)).toBe(want));

  it.each(['200', 'fast', '200GB/s', '-1G', '0G', ''])('rejects %j with a hint naming the format', (text) => {
    expect(() => parseBandwidth(text)).toThrow(/is not a bandwidth/);
  });

  it('formats for messages', () => {
    expect([formatBandwidth(200_000), formatBandwidth(1_600_000), formatBandwidth(25_500), formatBandwidth(750)]).toEqual(['200Gbps', '1.6Tbps', '25.5Gbps', '750Mbps']);
  });
});
