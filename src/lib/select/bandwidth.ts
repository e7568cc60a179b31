// Bandwidth targets (attachPolicy.target, cni-args "target") in Mb/s, the unit of NIC speed in
// sysfs and in HostInterface. Pure.
import { InvalidSelectionError } from './errors.js';

const UNITS: Record<string, number> = { '': NaN, k: 1e-3, m: 1, g: 1e3, t: 1e6 };

/**
 * Parses "200Gbps", "200G", "1.6Tb/s", "400000Mbps" into Mb/s. Bytes ("GB/s") are rejected: NIC
 * speeds are in bits, and a silent ×8 mistake would select the wrong NICs.
 */
export function parseBandwidth(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:bps|b\/s|bit\/s|bits\/s|b)?\s*$/.exec(text);
  if (!m || m[2] === '' || Number(m[1]) <= 0) {
    throw new InvalidSelectionError(`target "${text}" is not a bandwidth`, 'write it with a unit in bits per second, e.g. "200Gbps", "400G" or "1.6Tbps"');
  }
  const unit = UNITS[(m[2] as string).toLowerCase()] as number;
  return Number(m[1]) * unit;
}

/** Formats Mb/s for messages: 200000 → "200Gbps". */
export function formatBandwidth(mbps: number): string {
  if (mbps >= 1e6 && mbps % 1e5 === 0) return `${mbps / 1e6}Tbps`;
  if (mbps >= 1e3 && mbps % 100 === 0) return `${mbps / 1e3}Gbps`;
  return `${mbps}Mbps`;
}
