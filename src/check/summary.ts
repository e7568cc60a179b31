// The human summary of a CheckReport (stdout of `check` without -o): one summary line, then per
// network and NIC the matrix (Gbit/s where connected, FAIL where not), the aggregate per host
// pair, and only the failures with their hints (style §9). Pure text.
import type { CheckReport } from './types.js';

function table(rows: string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

export function summaryLine(r: CheckReport): string {
  const s = r.summary;
  const verdict = s.result === 'pass' ? 'PASS' : s.result === 'interrupted' ? 'INTERRUPTED' : 'FAIL';
  return `${verdict}: ${s.total} test${s.total === 1 ? '' : 's'}, ${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''} in ${s.durationSeconds.toFixed(1)}s`;
}

export function renderSummary(r: CheckReport, opts: { wide?: boolean } = {}): string {
  const out: string[] = [summaryLine(r)];
  for (const net of r.networks) {
    const tests = r.tests.filter((t) => t.network === net.name);
    for (const nic of net.nics) {
      out.push('', `network ${net.name}, nic${nic.index} (${nic.netAddress}): Gbit/s client -> server`);
      const clients = [...new Set(nic.connectivity.map((c) => c.client))].sort();
      const servers = [...new Set(nic.connectivity.map((c) => c.server))].sort();
      const rows = [['CLIENT \\ SERVER', ...servers]];
      for (const c of clients) {
        rows.push([
          c,
          ...servers.map((s) => {
            const t = tests.find((x) => x.nicIndex === nic.index && x.client.host === c && x.server.host === s);
            if (!t) return '-';
            if (t.status === 'skip') return 'skip';
            if (t.status === 'fail') return t.connected ? `${t.gbps?.toFixed(2)}!` : 'FAIL';
            return t.gbps !== undefined ? t.gbps.toFixed(2) : 'ok';
          }),
        ]);
      }
      out.push(...table(rows));
    }
    if (net.hostPairs.length) {
      out.push('', `network ${net.name}: host pairs (all NICs at once)`);
      const rows = [['CLIENT', 'SERVER', 'NICS', 'PASSED', 'AGGREGATE Gbit/s', ...(opts.wide ? ['RETRANSMITS'] : [])]];
      for (const p of net.hostPairs) {
        const retr = tests.filter((t) => t.client.host === p.client && t.server.host === p.server).reduce((s, t) => s + (t.retransmits ?? 0), 0);
        rows.push([p.client, p.server, String(p.nics), String(p.passed), p.aggregateGbps.toFixed(2), ...(opts.wide ? [String(retr)] : [])]);
      }
      out.push(...table(rows));
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
