// The CapEff reading behind the agent's decision to enter pod network namespaces.
import { describe, expect, it } from 'vitest';
import { effectiveCapabilities, holds, podNetnsDenied } from '../../../src/lib/agent/capabilities.js';

// /proc/self/status lines as the kernel prints them (fs/proc/array.c render_cap_t: 16 hex digits).
const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\nCapBnd:\t${capEff}\n`;

describe('capabilities', () => {
  const rows: Array<{ name: string; capEff: string; netAdmin: boolean; sysAdmin: boolean }> = [
    { name: 'root on the host (every capability)', capEff: '000001ffffffffff', netAdmin: true, sysAdmin: true },
    { name: 'the DaemonSet: NET_ADMIN only (bit 12)', capEff: '0000000000001000', netAdmin: true, sysAdmin: false },
    { name: 'with --pod-netns-access: NET_ADMIN + SYS_ADMIN (bit 21)', capEff: '0000000000201000', netAdmin: true, sysAdmin: true },
    { name: 'nothing', capEff: '0000000000000000', netAdmin: false, sysAdmin: false },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const mask = effectiveCapabilities(status(r.capEff))!;
      expect(holds(mask, 'NET_ADMIN')).toBe(r.netAdmin);
      expect(holds(mask, 'SYS_ADMIN')).toBe(r.sysAdmin);
      expect(podNetnsDenied(status(r.capEff)) === undefined).toBe(r.sysAdmin);
    });
  }

  it('says why and what to do when pod namespaces are not read; tries when the status cannot be read', () => {
    expect(podNetnsDenied(status('0000000000001000'))).toMatch(/no CAP_SYS_ADMIN.*install --pod-netns-access/);
    expect(podNetnsDenied(undefined)).toBeUndefined();
    expect(podNetnsDenied('Name:\tx\n')).toBeUndefined();
    expect(effectiveCapabilities('CapEff:\tzz\n')).toBeUndefined();
  });
});
