// Running the registry over a snapshot and building the DoctorReport (`doctor -o json`,
// schemas/doctorreport.json), plus the exit-code rule. Pure.
import { CHECKS } from './registry.js';
import type { Check, CheckGroup, CheckSummary, DoctorReport, DoctorSnapshot, Finding, Severity } from './types.js';

export interface DoctorOptions {
  /** Only findings about this network (findings about no network in particular stay). */
  network?: string;
  /** Only findings about this node (same rule). */
  node?: string;
  /** Which groups run (default: every group but pod). */
  groups?: readonly CheckGroup[];
  /** Warnings count as failures for `healthy`. */
  strict?: boolean;
  checks?: readonly Check[];
}

export const DEFAULT_GROUPS: readonly CheckGroup[] = ['cluster', 'node', 'network', 'ipam'];
const RANK: Record<Severity, number> = { fail: 0, warn: 1, info: 2 };

const whereKey = (f: Finding): string => [f.where.network ?? '', f.where.node ?? '', f.where.nic ?? '', f.where.pod ?? ''].join('\u0000');

/** Findings sorted for stable output: severity, check, where, seen. */
export function sortFindings(list: readonly Finding[]): Finding[] {
  return [...list].sort((a, b) => RANK[a.severity] - RANK[b.severity] || (a.check < b.check ? -1 : a.check > b.check ? 1 : 0) || whereKey(a).localeCompare(whereKey(b)) || a.seen.localeCompare(b.seen));
}

/** Runs the selected checks and builds the report. A check that throws is a bug: reported as a failure of that check. */
export function runDoctor(s: DoctorSnapshot, opts: DoctorOptions = {}): DoctorReport {
  const groups = new Set(opts.groups ?? (s.target ? ['pod'] : DEFAULT_GROUPS));
  const checks = (opts.checks ?? CHECKS).filter((c) => groups.has(c.group));
  const all: Finding[] = [];
  const summaries: CheckSummary[] = [];
  for (const c of checks) {
    let found: Finding[];
    try {
      found = c.run(s);
    } catch (e) {
      found = [{ severity: 'fail', check: c.id, where: {}, seen: `check ${c.id} crashed: ${(e as Error).message}`, cause: 'a bug in kubectl-multinic', fix: 'report it with the output of doctor -o json' }];
    }
    found = found.filter((f) => (!opts.network || !f.where.network || f.where.network === opts.network) && (!opts.node || !f.where.node || f.where.node === opts.node));
    all.push(...found);
    const worst = found.reduce<Severity | undefined>((w, f) => (w === undefined || RANK[f.severity] < RANK[w] ? f.severity : w), undefined);
    summaries.push({ id: c.id, title: c.title, group: c.group, status: worst ?? 'pass', findings: found.length });
  }
  const findings = sortFindings(all);
  const count = (sev: Severity) => findings.filter((f) => f.severity === sev).length;
  const fail = count('fail');
  const warn = count('warn');
  return {
    apiVersion: 'multinic.fms.io/v1',
    kind: 'DoctorReport',
    healthy: fail === 0 && (!opts.strict || warn === 0),
    observedAt: s.now,
    scope: {
      ...(opts.network ? { network: opts.network } : {}),
      ...(opts.node ? { node: opts.node } : {}),
      ...(s.target ? { pod: `${s.target.namespace}/${s.target.name}` } : {}),
    },
    summary: {
      checks: summaries.length,
      fail,
      warn,
      info: count('info'),
      nodes: s.nodes.length,
      networks: s.networks.length,
      probed: s.probes.length,
      answered: s.probes.filter((p) => p.answered).length,
    },
    checks: summaries,
    findings,
  };
}

/** One line like `cilium status`'s: the verdict and the counts. */
export function summaryLine(r: DoctorReport): string {
  const what = r.scope.pod ? `pod ${r.scope.pod}` : `${r.summary.nodes} node${r.summary.nodes === 1 ? '' : 's'}, ${r.summary.networks} network${r.summary.networks === 1 ? '' : 's'}`;
  const verdict = r.summary.fail ? 'FAILED' : r.summary.warn ? (r.healthy ? 'OK with warnings' : 'FAILED (--strict: warnings)') : 'OK';
  const probed = r.summary.probed ? `, ${r.summary.answered}/${r.summary.probed} agents answered the probe` : '';
  return `doctor: ${verdict}: ${what}, ${r.summary.checks} checks; ${r.summary.fail} failed, ${r.summary.warn} warnings, ${r.summary.info} notes${probed}`;
}
