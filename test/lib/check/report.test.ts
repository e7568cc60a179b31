import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderJunit, xmlEscape } from '../../../src/lib/check/junit.js';
import { reportExitCode } from '../../../src/lib/check/report.js';
import { type JsonSchema, validateSchema } from '../../../src/lib/k8s/schema.js';
import { sampleReport } from './sample-report.js';

const schema = JSON.parse(readFileSync(new URL('../../../schemas/checkreport.json', import.meta.url), 'utf8')) as JsonSchema;

describe('buildReport', () => {
  it('is a versioned CheckReport that validates against schemas/checkreport.json', () => {
    const r = sampleReport();
    expect(r.apiVersion).toBe('multinic.fms.io/v1');
    expect(r.kind).toBe('CheckReport');
    expect(validateSchema(schema, JSON.parse(JSON.stringify(r)))).toEqual([]);
    expect(validateSchema(schema, JSON.parse(JSON.stringify(sampleReport({ interruptAfter: 2 }))))).toEqual([]);
  });

  it('the schema is not vacuous: it rejects a wrong kind, an unknown status and a missing summary', () => {
    const r = JSON.parse(JSON.stringify(sampleReport()));
    r.kind = 'Report';
    r.tests[0].status = 'ok';
    delete r.summary;
    r.tests[1].surprise = 1;
    const fields = validateSchema(schema, r).map((e) => e.field).sort();
    expect(fields).toEqual(['kind', 'summary', 'tests[0].status', 'tests[1].surprise']);
  });

  it('sorts tests, counts outcomes, builds the per-NIC matrix and the per-pair aggregate', () => {
    const r = sampleReport();
    expect(r.tests.map((t) => t.id)).toEqual(['fabric/host-a->host-b/nic0', 'fabric/host-a->host-b/nic1', 'fabric/host-b->host-a/nic0', 'fabric/host-b->host-a/nic1']);
    expect(r.summary).toEqual({ result: 'fail', total: 4, passed: 3, failed: 1, skipped: 0, durationSeconds: 42.38 });
    expect(r.metadata).toEqual({ name: 'check-abc12', creationTimestamp: '2026-11-23T08:00:00Z' });
    expect(r.spec.nodes).toEqual(['host-a', 'host-b']);
    const [net] = r.networks;
    expect(net?.nics[1]?.connectivity).toEqual([
      { client: 'host-a', server: 'host-b', connected: false, status: 'fail' },
      { client: 'host-b', server: 'host-a', connected: true, status: 'pass' },
    ]);
    const ab = net?.hostPairs.find((p) => p.client === 'host-a');
    const abGbps = r.tests.filter((t) => t.client.host === 'host-a').reduce((s, t) => s + (t.gbps ?? 0), 0);
    expect(ab).toMatchObject({ nics: 2, passed: 1, status: 'fail' });
    expect(ab?.aggregateGbps).toBeCloseTo(abGbps, 2);
    const ba = net?.hostPairs.find((p) => p.client === 'host-b');
    expect(ba?.aggregateGbps).toBeCloseTo(2 * (r.tests[2]?.gbps ?? 0), 1);
    expect(reportExitCode(r)).toBe(1);
  });

  it('an interrupted run reports skips and never exits 0', () => {
    const r = sampleReport({ interruptAfter: 2 });
    expect(r.summary).toMatchObject({ result: 'interrupted', skipped: 2 });
    expect(reportExitCode(r)).toBe(1);
  });

  it('drops undefined fields so JSON and YAML agree', () => {
    const t = sampleReport().tests.find((x) => x.status === 'fail');
    expect(Object.values(t ?? {}).includes(undefined)).toBe(false);
    expect('gbps' in (t ?? {})).toBe(false);
  });
});

describe('renderJunit', () => {
  it('is well-formed XML with one testcase per test, failures carrying message and hint', () => {
    const xml = renderJunit(sampleReport({ interruptAfter: 3 }));
    // Parse with an independent XML parser (Python's ElementTree) and read the structure back.
    const read = execFileSync('python3', ['-c', `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
out = {'root': root.tag, 'attrs': root.attrib, 'cases': []}
for s in root:
    for c in s.findall('testcase'):
        f = c.find('failure'); k = c.find('skipped')
        out['cases'].append({'suite': s.get('name'), 'classname': c.get('classname'), 'name': c.get('name'),
            'failure': f.get('message') if f is not None else None, 'type': f.get('type') if f is not None else None,
            'body': f.text if f is not None else None, 'skipped': k is not None})
print(json.dumps(out))`], { input: xml, encoding: 'utf8' });
    const doc = JSON.parse(read);
    expect(doc.root).toBe('testsuites');
    expect(doc.attrs).toMatchObject({ tests: '4', failures: '1', skipped: '1' });
    expect(doc.cases.map((c: { classname: string; name: string }) => `${c.classname}:${c.name}`)).toEqual([
      'fabric.host-a->host-b:nic0', 'fabric.host-a->host-b:nic1', 'fabric.host-b->host-a:nic0', 'fabric.host-b->host-a:nic1',
    ]);
    const fail = doc.cases[1];
    expect(fail.type).toBe('no-route');
    expect(fail.failure).toContain('host-a -> host-b on nic1');
    expect(fail.body).toContain('hint: on host host-a, `ip route show table fabric`');
    expect(doc.cases.filter((c: { skipped: boolean }) => c.skipped)).toHaveLength(1);
  });

  it('escapes markup and drops characters XML cannot carry', () => {
    expect(xmlEscape(`a<b>&"c'\u0001`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
