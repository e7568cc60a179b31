// The human summary of a CheckReport (stdout of `check` without -o json|yaml): one summary line,
// then per network and NIC the matrix (Gbit/s where it passed, FAIL where it did not connect,
// Gbit/s! where it connected but failed), the aggregate per host pair, and only the failures with
// their hints (docs/conventions.md §9).
import { renderTable } from '../cli/table.js';
import { nicMatrices } from '../lib/check/report.js';
import type { CheckReport } from '../lib/check/types.js';

export function summaryLine(r: CheckReport): string {
  const s = r.summary;
  const verdict = s.result === 'pass' ? 'PASS' : s.result === 'interrupted' ? 'INTERRUPTED' : 'FAIL';
  return `${verdict}: ${s.total} test${s.total === 1 ? '' : 's'}, ${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''} in ${s.durationSeconds.toFixed(1)}s`;
}

export function renderSummary(r: CheckReport, opts: { wide?: boolean; color?: boolean } = {}): string {
  const out: string[] = [summaryLine(r)];
  const matrices = nicMatrices(r);
  for (const net of r.networks) {
    const tests = r.tests.filter((t) => t.network === net.name);
    for (const m of matrices.filter((x) => x.network === net.name)) {
      out.push('', `network ${net.name}, nic${m.index} (${m.netAddress}): Gbit/s client -> server`);
      const rows = m.clients.map((c, i) => [c, ...(m.cells[i] ?? [])]);
      out.push(renderTable([{ header: 'CLIENT \\ SERVER' }, ...m.servers.map((s) => ({ header: s, align: 'right' as const }))], rows, { indent: 2, color: opts.color }).trimEnd());
    }
    if (net.hostPairs.length) {
      out.push('', `network ${net.name}: host pairs (their NICs at once)`);
      const columns = [{ header: 'CLIENT' }, { header: 'SERVER' }, { header: 'NICS', align: 'right' as const }, { header: 'PASSED', align: 'right' as const }, { header: 'AGGREGATE Gbit/s', align: 'right' as const }];
      if (opts.wide) columns.push({ header: 'RETRANSMITS', align: 'right' as const });
      const rows = net.hostPairs.map((p) => {
        const retr = tests.filter((t) => t.client.host === p.client && t.server.host === p.server).reduce((s, t) => s + (t.retransmits ?? 0), 0);
        return [p.client, p.server, String(p.nics), String(p.passed), p.aggregateGbps.toFixed(2), ...(opts.wide ? [String(retr)] : [])];
      });
      out.push(renderTable(columns, rows, { indent: 2, color: opts.color }).trimEnd());
    }
  }
  const failures = r.tests.filter((t) => t.status === 'fail');
  if (failures.length) {
    out.push('', 'failures:');
    for (const f of failures) {
      out.push(`  ${f.id} [${f.cause}]: ${f.summary}`);
      if (f.hint) out.push(`    hint: ${f.hint}`);
      for (const e of f.evidence) out.push(`    ${e}`);
    }
  }
  return `${out.join('\n')}\n`;
}
