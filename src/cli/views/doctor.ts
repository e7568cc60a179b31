// Human rendering of a DoctorReport, like `cilium status`: one summary line, then only what is
// wrong (and notes), grouped by severity, each with where, cause and fix.
import type { DoctorReport, Finding, Severity } from '../../lib/doctor/types.js';
import { summaryLine } from '../../lib/doctor/report.js';

const HEADINGS: Array<[Severity, string, string]> = [
  ['fail', 'FAILURES', '✗'],
  ['warn', 'WARNINGS', '!'],
  ['info', 'NOTES', 'i'],
];

const whereText = (f: Finding): string =>
  [f.where.network && `network ${f.where.network}`, f.where.node && `node ${f.where.node}`, f.where.nic && `nic ${f.where.nic}`, f.where.pod && `pod ${f.where.pod}`].filter(Boolean).join(', ');

/** The report for a terminal or a log: plain text, no colour needed to read it. */
export function doctorText(r: DoctorReport, line: string = summaryLine(r)): string {
  const out = [line];
  for (const [sev, heading, mark] of HEADINGS) {
    const list = r.findings.filter((f) => f.severity === sev);
    if (!list.length) continue;
    out.push('', `${heading} (${list.length})`);
    for (const f of list) {
      const where = whereText(f);
      out.push(`  ${mark} [${f.check}]${where ? ` ${where}:` : ''} ${f.seen}`);
      out.push(`      cause: ${f.cause}`);
      out.push(`      fix:   ${f.fix}`);
    }
  }
  return out.join('\n');
}
