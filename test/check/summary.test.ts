import { describe, expect, it } from 'vitest';
import { renderSummary, summaryLine } from '../../src/check/summary.js';
import { sampleReport } from '../lib/check/sample-report.js';

describe('renderSummary', () => {
  it('one summary line, the matrix per NIC, pairs, then only failures with hints', () => {
    const r = sampleReport();
    const text = renderSummary(r);
    const lines = text.split('\n');
    expect(lines[0]).toBe(summaryLine(r));
    expect(lines[0]).toBe('FAIL: 4 tests, 3 passed, 1 failed in 42.4s');
    expect(text).toContain('network fabric, nic1 (10.0.2.0/24): Gbit/s client -> server');
    const nic1 = lines.slice(lines.findIndex((l) => l.includes('nic1 (10.0.2.0/24)')));
    expect(nic1[2]).toMatch(/^ {2}host-a +- +FAIL$/);
    expect(nic1[3]).toMatch(/^ {2}host-b +\d+\.\d\d +-$/);
    expect(text).toContain('fabric/host-a->host-b/nic1 [no-route]:');
    expect(text).toContain('    hint: on host host-a, `ip route show table fabric` (the table of `ip rule` "from 192.168.0.0/16") should hold `192.168.65.0/24 via 10.0.2.2 dev eth2`');
    expect(text.match(/hint:/g)).toHaveLength(1);
  });
});

