// JUnit XML for CI (`check --junit-file F`): one <testsuite> per network, one <testcase> per test
// (classname NETWORK.CLIENT->SERVER, name nicI), <failure> with the summary as message and the hint
// and evidence as body, <skipped> for tests not run. Pure.
import type { CheckReport } from './types.js';

/** Escapes text for XML attribute values and character data; drops characters XML 1.0 forbids. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function renderJunit(report: CheckReport): string {
  const networks = [...new Set(report.tests.map((t) => t.network))].sort();
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const count = (s: string) => report.tests.filter((t) => t.status === s).length;
  lines.push(
    `<testsuites name="kubectl multinic check" tests="${report.tests.length}" failures="${count('fail')}" skipped="${count('skip')}" time="${report.summary.durationSeconds}">`,
  );
  for (const net of networks) {
    const tests = report.tests.filter((t) => t.network === net);
    const fails = tests.filter((t) => t.status === 'fail').length;
    const skips = tests.filter((t) => t.status === 'skip').length;
    const time = tests.reduce((s, t) => s + (t.seconds ?? 0), 0);
    lines.push(`  <testsuite name="${xmlEscape(net)}" tests="${tests.length}" failures="${fails}" errors="0" skipped="${skips}" time="${time.toFixed(3)}" timestamp="${xmlEscape(report.metadata.creationTimestamp)}">`);
    for (const t of tests) {
      const attrs = `classname="${xmlEscape(`${net}.${t.client.host}->${t.server.host}`)}" name="nic${t.nicIndex}" time="${(t.seconds ?? 0).toFixed(3)}"`;
      const props =
        t.gbps !== undefined
          ? `\n      <properties>\n        <property name="gbps" value="${t.gbps}"/>${t.retransmits !== undefined ? `\n        <property name="retransmits" value="${t.retransmits}"/>` : ''}${t.expectedGbps !== undefined ? `\n        <property name="expectedGbps" value="${t.expectedGbps}"/>` : ''}\n      </properties>`
          : '';
      if (t.status === 'pass') {
        lines.push(`    <testcase ${attrs}>${props}\n      <system-out>${xmlEscape(t.summary)}</system-out>\n    </testcase>`);
      } else if (t.status === 'skip') {
        lines.push(`    <testcase ${attrs}>\n      <skipped message="${xmlEscape(t.summary)}"/>\n    </testcase>`);
      } else {
        const body = [t.hint ? `hint: ${t.hint}` : '', ...t.evidence].filter(Boolean).join('\n');
        lines.push(`    <testcase ${attrs}>${props}\n      <failure message="${xmlEscape(t.summary)}" type="${t.cause ?? 'fail'}">${xmlEscape(body)}</failure>\n    </testcase>`);
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
