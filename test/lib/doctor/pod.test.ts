// `doctor pod NS/NAME` checks and the CNI failure classifier, over hand-built snapshots.
import { describe, expect, it } from 'vitest';
import { classifyCniFailure } from '../../../src/lib/doctor/cni-codes.js';
import { runDoctor } from '../../../src/lib/doctor/report.js';
import type { DoctorSnapshot } from '../../../src/lib/doctor/types.js';
import { diag, healthy, pod } from './fixtures.js';

const forPod = (s: DoctorSnapshot, name: string) => runDoctor({ ...s, target: { namespace: 'default', name } });
const brief = (s: DoctorSnapshot, name: string) => forPod(s, name).findings.map((f) => [f.check, f.severity, f.seen]);

const event = (message: string, count = 1) => ({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'p1', namespace: 'default' }, reason: 'FailedCreatePodSandBox', message, count, lastTimestamp: '2026-12-02T11:59:00Z' });

describe('doctor pod', () => {
  it('a healthy running pod: nothing to report, only pod checks run', () => {
    const r = forPod(healthy(), 'p1');
    expect(r.findings).toEqual([]);
    expect(r.checks.map((c) => c.id)).toEqual(['pod-annotation', 'pod-network', 'pod-events', 'pod-attachments']);
    expect(r.scope).toEqual({ pod: 'default/p1' });
  });

  it('a pod that does not exist', () => {
    expect(brief(healthy(), 'nope')).toEqual([['pod-annotation', 'fail', 'pod default/nope not found']]);
  });

  it('bad JSON in the annotation is named with its position', () => {
    const s = healthy();
    s.pods.push(pod('bad', 'host1', 'uid-bad', { 'k8s.v1.cni.cncf.io/networks': '[{"name": "net-a",}]' }));
    const [f] = forPod(s, 'bad').findings;
    expect(f?.check).toBe('pod-annotation');
    expect(f?.seen).toMatch(/^k8s\.v1\.cni\.cncf\.io\/networks is not valid JSON at line 1 column 19 \(position 18\): /);
    expect(f?.seen).toContain('the annotation is "[{\\"name\\": \\"net-a\\",}]"');
  });

  it('no annotation: a warning (asks for no network)', () => {
    const s = healthy();
    const p = pod('plain', 'host1');
    delete p.metadata!.annotations!['k8s.v1.cni.cncf.io/networks'];
    s.pods.push(p);
    expect(brief(s, 'plain')).toEqual([['pod-annotation', 'warn', 'pod default/plain has no k8s.v1.cni.cncf.io/networks annotation: it asks for no secondary network']]);
  });

  it('a network that does not exist names the ones that do', () => {
    const s = healthy();
    s.pods.push(pod('typo', 'host1', 'uid-t', { 'k8s.v1.cni.cncf.io/networks': 'net-b' }));
    const [f] = forPod(s, 'typo').findings;
    expect([f?.check, f?.seen]).toEqual(['pod-network', 'network net-b does not exist (no MultiNicNetwork, no NetworkAttachmentDefinition in default)']);
    expect(f?.fix).toMatch(/^networks in the cluster: net-a;/);
  });

  it('the network exists but its NAD is not in the pod namespace: says whether spec.namespaces leaves it out', () => {
    const s = healthy();
    s.nads = [];
    s.networks[0]!.spec.namespaces = ['team-a'];
    const [f] = forPod(s, 'p1').findings.filter((x) => x.check === 'pod-network');
    expect(f?.seen).toBe('MultiNicNetwork net-a exists but has no NetworkAttachmentDefinition in namespace default');
    expect(f?.cause).toBe('default is not in its spec.namespaces (team-a)');
  });

  it('sandbox failures are mapped to our CNI codes with cause and fix, repeated ones counted', () => {
    const s = healthy();
    (s.pods[0]!.status as { phase: string }).phase = 'Pending';
    s.events = [event('Failed to create pod sandbox: plugin type="multi-nic" name="default/net-a" failed (add): failed to allocate: agent: IP pool "net-a-192.168.0.0-24" (192.168.0.0/24) is exhausted: all 253 usable addresses are allocated', 3)];
    const [f] = forPod(s, 'p1').findings.filter((x) => x.check === 'pod-events');
    expect(f?.severity).toBe('fail');
    expect(f?.seen).toMatch(/^FailedCreatePodSandBox x3 \(last 2026-12-02T11:59:00Z\): .* \[code 102: pool exhausted\]$/);
    expect(f?.fix).toMatch(/ipam check/);
  });

  it('network-status, allocations and the pod\'s real interfaces disagree', () => {
    const s = healthy();
    Object.assign(diag(s, 'host1').allocations[0]!, { state: 'address-missing' });
    s.ippools.find((p) => p.spec.hostName === 'host1' && p.spec.interfaceName === 'eth1')!.spec.allocations = [];
    expect(brief(s, 'p1')).toEqual([
      ['pod-attachments', 'fail', 'in the pod (seen by the agent on host1): net1-0 lost 192.168.0.2'],
      ['pod-attachments', 'fail', 'network-status lists net1-0 192.168.0.2 but no IPPool allocation holds it for this pod'],
    ]);
  });

  it('without diagnostics on its node, says the comparison with the pod\'s interfaces is not possible', () => {
    const s = healthy();
    delete (s.hostInterfaces[0]!.status as Record<string, unknown>).diagnostics;
    expect(brief(s, 'p1')).toEqual([['pod-attachments', 'info', 'the agent on host1 publishes no diagnostics: the pod\'s real interfaces and routes cannot be compared']]);
  });
});

describe('classifyCniFailure', () => {
  it.each([
    ['failed to find plugin "multi-nic" in path [/opt/cni/bin]', undefined, 'multi-nic plugin not found'],
    ['failed to add NIC 1 (eth1 -> net1-0) with macvlan: failed to find plugin "macvlan" in CNI_PATH [/opt/cni/bin]; rolled back', 105, 'delegate plugin "macvlan" not found'],
    ['network-attachment-definition default/nope not found', undefined, 'NetworkAttachmentDefinition not found'],
    ['failed to allocate: agent: network "x" is not known to the agent on host1', 104, 'unknown network'],
    ['failed to add NIC 2 (eth2 -> net1-1) with macvlan: operation not supported; rolled back 1 interface', 105, 'delegate plugin failed'],
    ['{"code": 101, "msg": "whatever"}', 101, 'no matching NIC'],
    ['failed to allocate: connect ENOENT /run/multinic/agent.sock', 11, 'agent unreachable'],
    ['internal error: x is undefined', 199, 'internal error'],
    ['k8s.v1.cni.cncf.io/networks is not valid JSON at line 1 column 12 (position 11): Unexpected token', undefined, 'bad networks annotation'],
  ])('%s', (msg, code, title) => {
    const m = classifyCniFailure(msg);
    expect([m?.code, m?.title]).toEqual([code, title]);
  });

  it('an unknown message is not classified', () => {
    expect(classifyCniFailure('something else entirely')).toBeUndefined();
  });
});
