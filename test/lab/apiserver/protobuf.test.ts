// The stand-in speaks the Kubernetes protobuf encoding for the core kinds real clients write that
// way (Multus: Pod get + pods/status update; kubelet and Multus: Events; kubectl's typed clients).
// Request bodies here are built by hand, field by field, from k8s.io/api core/v1 generated.proto
// and apimachinery meta/v1 generated.proto (numbers in comments), not with the stand-in's encoder;
// its answers are read back by real kubectl (a Go client) where kubectl asks for protobuf.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKubeconfig } from '../../../src/lab/kubeconfig.js';
import type { ApiServer } from '../../../src/lab/apiserver/index.js';
import { decodeProtobuf, encodeProtobuf, ProtobufDecodeError, ProtobufEncodeError } from '../../../src/lab/apiserver/protobuf.js';
import { standIn, installCrds } from './helpers.js';

// ---- a minimal, independent protobuf writer (proto2 wire format) ------------------------------
const varint = (n: bigint): number[] => {
  const out: number[] = [];
  let x = BigInt.asUintN(64, n);
  for (;;) {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    if (x === 0n) return [...out, b];
    out.push(b | 0x80);
  }
};
/** Length-delimited field (wire type 2): strings, bytes, messages, map entries. */
const ld = (no: number, ...parts: Array<Buffer | string>): Buffer => {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return Buffer.from([...varint(BigInt((no << 3) | 2)), ...varint(BigInt(body.length)), ...body]);
};
/** Varint field (wire type 0): bool, int32, int64. */
const vi = (no: number, n: number | bigint | boolean): Buffer => Buffer.from([...varint(BigInt(no << 3)), ...varint(BigInt(typeof n === 'boolean' ? (n ? 1 : 0) : n))]);
const cat = (...b: Buffer[]): Buffer => Buffer.concat(b);
/** map<string, V> entry: key = 1, value = 2. */
const entry = (no: number, k: string, v: Buffer | string): Buffer => ld(no, ld(1, k), typeof v === 'string' ? ld(2, v) : ld(2, v));
/** metav1.Time {seconds = 1, nanos = 2}. */
const time = (no: number, iso: string): Buffer => ld(no, vi(1, Math.floor(Date.parse(iso) / 1000)), vi(2, 0));
/** The envelope: "k8s\0" + runtime.Unknown {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3, contentType = 4}. */
const envelope = (kind: string, raw: Buffer, encoding = ''): Buffer => cat(Buffer.from('k8s\0', 'binary'), ld(1, ld(1, 'v1'), ld(2, kind)), ld(2, raw), ld(3, encoding), ld(4, ''));

const STATUS = '[{"name":"default/multi-nic-sample","interface":"net1-1","ips":["192.168.1.47","192.168.65.47"],"mac":"02:00:00:00:00:02","dns":{}}]';

/**
 * The Pod as Multus' UpdateStatus sends it after setting network-status: everything it read,
 * re-encoded by gogo-protobuf, which writes non-pointer fields even when empty.
 */
function multusPodBody(resourceVersion: string, uid: string, created: string): Buffer {
  const meta = cat(
    ld(1, 'p'), // name
    ld(2, ''), // generateName (empty, still written)
    ld(3, 'default'), // namespace
    ld(4, ''), // selfLink
    ld(5, uid),
    ld(6, resourceVersion),
    vi(7, 0), // generation
    time(8, created), // creationTimestamp
    entry(11, 'app', 'iperf'), // labels
    entry(12, 'k8s.v1.cni.cncf.io/networks', 'multi-nic-sample'), // annotations
    entry(12, 'k8s.v1.cni.cncf.io/network-status', STATUS),
  );
  const container = cat(
    ld(1, 'main'), // name
    ld(2, 'lab'), // image
    ld(3, 'iperf3'), // command
    ld(3, '-s'),
    ld(5, ''), // workingDir
    ld(6, cat(ld(1, ''), vi(2, 0), vi(3, 5201), ld(4, 'TCP'), ld(5, ''))), // ports: ContainerPort {name, hostPort, containerPort, protocol, hostIP}
    ld(8, entry(2, 'cpu', ld(1, '100m'))), // resources: ResourceRequirements {requests = 2: map<string, Quantity {string = 1}>}
    ld(13, '/dev/termination-log'), // terminationMessagePath
    ld(20, 'File'), // terminationMessagePolicy
    ld(14, 'IfNotPresent'), // imagePullPolicy
    vi(16, false), // stdin
    vi(17, false), // stdinOnce
    vi(18, false), // tty
  );
  const spec = cat(
    ld(2, container), // containers
    ld(3, 'Always'), // restartPolicy
    vi(4, 0), // terminationGracePeriodSeconds: *int64 set to 0 (meaningful)
    ld(6, 'ClusterFirst'), // dnsPolicy
    ld(10, 'host1'), // nodeName
    vi(11, false), // hostNetwork
    vi(12, false), // hostPID
    vi(13, false), // hostIPC
    ld(14, vi(4, 1000n), vi(4, 2000n)), // securityContext: PodSecurityContext {supplementalGroups = 4 (unpacked)}
    ld(19, 'default-scheduler'), // schedulerName
    ld(22, cat(ld(1, ''), ld(2, 'Exists'), ld(3, ''), ld(4, ''))), // tolerations
    vi(25, 0), // priority (*int32 = 0)
    vi(30, true), // enableServiceLinks
  );
  const status = cat(
    ld(1, 'Running'), // phase
    ld(2, cat(ld(1, 'Ready'), ld(2, 'True'), ld(3, ''), time(4, '2026-01-02T03:04:05Z'), ld(5, ''), ld(6, ''))), // conditions: PodCondition {type, status, lastProbeTime (zero), lastTransitionTime, reason, message}
    ld(3, ''), // message
    ld(4, ''), // reason
    ld(5, '10.0.0.1'), // hostIP
    ld(6, '192.168.1.47'), // podIP
    time(7, '2026-01-02T03:04:05Z'), // startTime
    ld(8, cat(ld(1, 'main'), ld(2, ld(2, time(1, '2026-01-02T03:04:06Z'))), ld(3, ''), vi(4, true), vi(5, 0), ld(6, 'lab'), ld(7, ''), ld(8, ''), vi(9, true))), // containerStatuses: {name, state {running {startedAt}}, lastState (empty), ready, restartCount, image, imageID, containerID, started}
    ld(9, 'BestEffort'), // qosClass
    ld(12, ld(1, '192.168.1.47')), // podIPs: PodIP {ip}
    ld(16, ld(1, '10.0.0.1')), // hostIPs: HostIP {ip}
  );
  return envelope('Pod', cat(ld(1, meta), ld(2, spec), ld(3, status)));
}

describe('protobuf codec (hand-built bytes)', () => {
  it('decodes the Pod Multus sends to pods/status into the JSON object it stands for', () => {
    const got = decodeProtobuf(multusPodBody('42', 'u-1', '2026-01-02T03:04:00Z'));
    expect(got).toEqual({
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'p',
          namespace: 'default',
          uid: 'u-1',
          resourceVersion: '42',
          creationTimestamp: '2026-01-02T03:04:00Z',
          labels: { app: 'iperf' },
          annotations: { 'k8s.v1.cni.cncf.io/networks': 'multi-nic-sample', 'k8s.v1.cni.cncf.io/network-status': STATUS },
        },
        spec: {
          containers: [
            {
              name: 'main',
              image: 'lab',
              command: ['iperf3', '-s'],
              ports: [{ containerPort: 5201, protocol: 'TCP' }],
              resources: { requests: { cpu: '100m' } },
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              imagePullPolicy: 'IfNotPresent',
            },
          ],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 0,
          dnsPolicy: 'ClusterFirst',
          nodeName: 'host1',
          securityContext: { supplementalGroups: [1000, 2000] },
          schedulerName: 'default-scheduler',
          tolerations: [{ operator: 'Exists' }],
          priority: 0,
          enableServiceLinks: true,
        },
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-02T03:04:05Z' }],
          hostIP: '10.0.0.1',
          podIP: '192.168.1.47',
          startTime: '2026-01-02T03:04:05Z',
          containerStatuses: [{ name: 'main', state: { running: { startedAt: '2026-01-02T03:04:06Z' } }, lastState: {}, ready: true, restartCount: 0, image: 'lab', imageID: '', started: true }],
          qosClass: 'BestEffort',
          podIPs: [{ ip: '192.168.1.47' }],
          hostIPs: [{ ip: '10.0.0.1' }],
        },
      },
    });
  });

  it('decodes packed repeated scalars too', () => {
    const packed = ld(4, Buffer.from([...varint(1000n), ...varint(2000n)]));
    const got = decodeProtobuf(envelope('Pod', ld(2, ld(14, packed))));
    expect(got).toMatchObject({ object: { spec: { securityContext: { supplementalGroups: [1000, 2000] } } } });
  });

  it('decodes a core/v1 Event as kubelet and Multus record it (MicroTime keeps microseconds)', () => {
    const raw = cat(
      ld(1, cat(ld(1, 'p.17a'), ld(3, 'default'))), // metadata
      ld(2, cat(ld(1, 'Pod'), ld(2, 'default'), ld(3, 'p'), ld(4, 'u-1'), ld(5, 'v1'), ld(6, ''), ld(7, ''))), // involvedObject
      ld(3, 'AddedInterface'),
      ld(4, 'Add net1-1 [192.168.1.47/18 192.168.65.47/18] from default/multi-nic-sample'),
      ld(5, cat(ld(1, 'multus'), ld(2, ''))), // source
      time(6, '2026-01-02T03:04:05Z'), // firstTimestamp
      time(7, '2026-01-02T03:04:05Z'), // lastTimestamp
      vi(8, 1), // count
      ld(9, 'Normal'),
      ld(10, vi(1, Math.floor(Date.parse('2026-01-02T03:04:05Z') / 1000)), vi(2, 123456000)), // eventTime (MicroTime)
      ld(12, ''), // action
      ld(14, 'multus'), // reportingComponent
      ld(15, 'host1'), // reportingInstance
    );
    expect(decodeProtobuf(envelope('Event', raw))).toEqual({
      object: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'p.17a', namespace: 'default' },
        involvedObject: { kind: 'Pod', namespace: 'default', name: 'p', uid: 'u-1', apiVersion: 'v1' },
        reason: 'AddedInterface',
        message: 'Add net1-1 [192.168.1.47/18 192.168.65.47/18] from default/multi-nic-sample',
        source: { component: 'multus' },
        firstTimestamp: '2026-01-02T03:04:05Z',
        lastTimestamp: '2026-01-02T03:04:05Z',
        count: 1,
        type: 'Normal',
        eventTime: '2026-01-02T03:04:05.123456Z',
        reportingComponent: 'multus',
        reportingInstance: 'host1',
      },
    });
  });

  it('refuses, naming the place, a field it does not know, a broken body, a compressed one', () => {
    // PodStatus field 99 does not exist (a newer client): refused, never dropped.
    expect(() => decodeProtobuf(envelope('Pod', ld(3, cat(ld(1, 'Running'), ld(99, 'x')))))).toThrow(/Pod\.status: field 99 is not a field of v1\.PodStatus.*refused rather than dropped/);
    expect(() => decodeProtobuf(envelope('Pod', ld(2, ld(2, cat(ld(1, 'main'), vi(77, 1))))))).toThrow(/Pod\.spec\.containers\[0\]: field 77/);
    expect(() => decodeProtobuf(Buffer.from('{"kind":"Pod"}'))).toThrow(ProtobufDecodeError);
    expect(() => decodeProtobuf(envelope('Pod', ld(1, ld(1, 'p'))).subarray(0, 20))).toThrow(/truncated/);
    expect(() => decodeProtobuf(envelope('Pod', ld(1, ld(1, 'p')), 'gzip'))).toThrow(/content encoding "gzip"/);
    expect(decodeProtobuf(envelope('Node', Buffer.alloc(0)))).toEqual({ unsupported: { apiVersion: 'v1', kind: 'Node' } });
  });

  it('encodes what it decodes (a stored Pod and a PodList), and refuses keys outside the schema', () => {
    const pod = (decodeProtobuf(multusPodBody('7', 'u-2', '2026-01-02T03:04:00Z')) as { object: Record<string, unknown> }).object;
    expect(decodeProtobuf(encodeProtobuf(pod as never))).toEqual({ object: pod });
    const { apiVersion: _a, kind: _k, ...item } = pod;
    const list = { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '9' }, items: [pod] };
    expect(decodeProtobuf(encodeProtobuf(list as never))).toEqual({ object: { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '9' }, items: [item] } });
    expect(() => encodeProtobuf({ ...pod, spec: { ...(pod.spec as object), madeUp: 1 } } as never)).toThrow(ProtobufEncodeError);
    expect(() => encodeProtobuf({ apiVersion: 'multinic.fms.io/v1', kind: 'IPPool', metadata: { name: 'x' } })).toThrow(/no protobuf form/);
  });
});

describe('stand-in HTTP: protobuf requests and answers', () => {
  let server: ApiServer;
  const send = async (method: string, path: string, body: Buffer | string | undefined, headers: Record<string, string>) => {
    const r = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    return { status: r.status, type: r.headers.get('content-type'), body: Buffer.from(await r.arrayBuffer()) };
  };
  const PB = 'application/vnd.kubernetes.protobuf';
  const CLIENT_GO = { Accept: `${PB},application/json` };

  beforeAll(async () => {
    ({ server } = await standIn());
    installCrds(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("Multus' network-status write: GET the pod as protobuf, PUT pods/status with a protobuf body", async () => {
    const created = server.store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', labels: { app: 'iperf' }, annotations: { 'k8s.v1.cni.cncf.io/networks': 'multi-nic-sample' } },
      spec: { nodeName: 'host1', containers: [{ name: 'main', image: 'lab', command: ['iperf3', '-s'] }] },
    });
    const got = await send('GET', '/api/v1/namespaces/default/pods/p', undefined, CLIENT_GO);
    expect([got.status, got.type]).toEqual([200, PB]);
    expect(decodeProtobuf(got.body)).toEqual({ object: created });

    const meta = created.metadata!;
    const put = await send('PUT', '/api/v1/namespaces/default/pods/p/status', multusPodBody(meta.resourceVersion!, meta.uid!, meta.creationTimestamp!), { ...CLIENT_GO, 'Content-Type': PB });
    expect([put.status, put.type], put.body.toString()).toEqual([200, PB]);
    const stored = server.store.get('v1', 'Pod', 'p', 'default');
    expect(stored?.metadata?.annotations?.['k8s.v1.cni.cncf.io/network-status']).toBe(STATUS);
    expect((stored?.status as { phase?: string }).phase).toBe('Running');
    // pods/status leaves the spec as it was: the body's spec (with kubelet defaults) is ignored.
    expect(stored?.spec).toEqual(created.spec);
    expect(decodeProtobuf(put.body)).toEqual({ object: stored });
  });

  it('a stale resourceVersion in a protobuf body still gets 409, and an unknown field 400 with nothing written', async () => {
    const before = server.store.get('v1', 'Pod', 'p', 'default')!;
    const stale = await send('PUT', '/api/v1/namespaces/default/pods/p/status', multusPodBody('1', before.metadata!.uid!, before.metadata!.creationTimestamp!), { ...CLIENT_GO, 'Content-Type': PB });
    expect(stale.status).toBe(409);
    const bad = await send('PUT', '/api/v1/namespaces/default/pods/p/status', envelope('Pod', cat(ld(1, ld(1, 'p')), ld(3, ld(99, 'x')))), { ...CLIENT_GO, 'Content-Type': PB });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).message).toMatch(/Pod\.status: field 99 .*refused rather than dropped/);
    expect(server.store.get('v1', 'Pod', 'p', 'default')).toEqual(before);
  });

  it('kubelet-style: strategic-merge patch of pods/status in JSON, answered in protobuf', async () => {
    const r = await send('PATCH', '/api/v1/namespaces/default/pods/p/status', JSON.stringify({ status: { phase: 'Succeeded' } }), { ...CLIENT_GO, 'Content-Type': 'application/strategic-merge-patch+json' });
    expect([r.status, r.type]).toEqual([200, PB]);
    expect(decodeProtobuf(r.body)).toMatchObject({ object: { kind: 'Pod', status: { phase: 'Succeeded' } } });
  });

  it('creates an Event from a protobuf body (the event recorder) and lists Events as protobuf', async () => {
    const raw = cat(ld(1, cat(ld(1, 'p.1'), ld(3, 'default'))), ld(2, cat(ld(1, 'Pod'), ld(2, 'default'), ld(3, 'p'))), ld(3, 'AddedInterface'), ld(4, 'Add net1-1'), ld(9, 'Normal'), vi(8, 1));
    const r = await send('POST', '/api/v1/namespaces/default/events', envelope('Event', raw), { ...CLIENT_GO, 'Content-Type': PB });
    expect([r.status, r.type]).toEqual([201, PB]);
    expect(server.store.get('v1', 'Event', 'p.1', 'default')).toMatchObject({ reason: 'AddedInterface', involvedObject: { kind: 'Pod', name: 'p' }, count: 1 });
    const list = await send('GET', '/api/v1/namespaces/default/events', undefined, CLIENT_GO);
    expect(list.type).toBe(PB);
    expect(decodeProtobuf(list.body)).toMatchObject({ object: { kind: 'EventList', items: [{ metadata: { name: 'p.1' }, reason: 'AddedInterface' }] } });
  });

  it('answers JSON when JSON comes first or the kind has no protobuf form; 406 when only protobuf would do', async () => {
    expect((await send('GET', '/api/v1/namespaces/default/pods/p', undefined, { Accept: `application/json, ${PB}` })).type).toBe('application/json');
    expect((await send('GET', '/api/v1/namespaces/default/pods/p', undefined, { Accept: '*/*' })).type).toBe('application/json');
    server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'DeviceClass', metadata: { name: 'dc' }, spec: { ids: [{ vendor: '15b3', products: ['1017'] }] } });
    expect((await send('GET', '/apis/multinic.fms.io/v1/deviceclasses/dc', undefined, CLIENT_GO)).type).toBe('application/json');
    const only = await send('GET', '/apis/multinic.fms.io/v1/deviceclasses/dc', undefined, { Accept: PB });
    expect(only.status).toBe(406);
    const nodeBody = await send('POST', '/api/v1/nodes', envelope('Node', ld(1, ld(1, 'n'))), { ...CLIENT_GO, 'Content-Type': PB });
    expect(nodeBody.status).toBe(415);
  });
});

const kubectlMissing = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return '';
  } catch {
    return 'kubectl is not installed';
  }
})();

describe.skipIf(kubectlMissing !== '')(`real kubectl reads the stand-in's protobuf answers ${kubectlMissing}`, () => {
  let server: ApiServer;
  let dir: string;
  const kubectl = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  beforeAll(async () => {
    ({ server } = await standIn());
    dir = mkdtempSync(join(tmpdir(), 'mn-apiserver-pb-'));
    await writeKubeconfig(join(dir, 'kubeconfig'), server.url);
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('port-forward reads the Pod with its typed client (protobuf) and sees its phase', async () => {
    server.store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'done', namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/network-status': STATUS } },
      spec: { nodeName: 'host1', terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: 'lab', ports: [{ containerPort: 5201 }], resources: { requests: { cpu: '100m', memory: '1Gi' } } }], tolerations: [{ operator: 'Exists' }] },
    });
    server.store.patch('v1', 'Pod', 'done', 'default', 'merge', { status: { phase: 'Failed', startTime: '2026-01-02T03:04:05Z', conditions: [{ type: 'Ready', status: 'False' }] } }, 'status');
    const r = await kubectl('-v=8', 'port-forward', 'done', '15201:5201');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Accept: application\/vnd\.kubernetes\.protobuf,application\/json[\s\S]*Response Status: 200[\s\S]*Content-Type: application\/vnd\.kubernetes\.protobuf/);
    expect(r.stderr).toContain('unable to forward port because pod is not running. Current status=Failed');
  });

  it('kubectl events lists core/v1 Events as protobuf', async () => {
    server.store.create({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'done.1', namespace: 'default' }, involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'done', namespace: 'default' }, reason: 'AddedInterface', message: 'Add net1-1 [192.168.1.47/18] from default/multi-nic-sample', type: 'Normal', count: 1, source: { component: 'multus' }, firstTimestamp: '2026-01-02T03:04:05Z', lastTimestamp: '2026-01-02T03:04:05Z' });
    const r = await kubectl('-v=8', 'events', '-n', 'default');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Content-Type: application/vnd.kubernetes.protobuf');
    expect(r.stdout).toMatch(/Normal\s+AddedInterface\s+Pod\/done\s+Add net1-1 \[192\.168\.1\.47\/18\] from default\/multi-nic-sample/);
  });

  it('create -o json prints the object decoded from the protobuf answer, equal to what is stored', async () => {
    const r = await kubectl('-v=8', 'create', 'configmap', 'cm1', '--from-literal=a=1', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Response Status: 201[\s\S]*Content-Type: application\/vnd\.kubernetes\.protobuf/);
    expect(JSON.parse(r.stdout)).toEqual(server.store.get('v1', 'ConfigMap', 'cm1', 'default'));
  });
});
