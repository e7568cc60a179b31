// The agent bundled by esbuild into one file in a directory of its own (no deploy/ beside it, as
// in a bundle shipped alone) still serves the kubelet DRA plugin: the protos are embedded
// (src/agent/dra/protos.gen.ts), and the generated file is what deploy/proto says. The bundle runs
// with --kube --dra in a throwaway network namespace (prefix dr) against the API stand-in; a real
// gRPC client calls GetInfo and NodePrepareResources as the kubelet does.
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as GrpcJs from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privileged } from '../../helpers/privileged.js';
import { eventually } from '../../helpers/eventually.js';
import { NetnsLab } from '../helpers/netns.js';
import { run, start } from '../../../src/host/exec.js';
import { startApiServer, writeKubeconfig, type ApiServer } from '../../../src/lab/apiserver/index.js';
import { loadProtos, pluginSockets } from '../../../src/agent/dra/plugin.js';
import { CRDS } from '../../../src/lib/crds/crds.gen.js';
import { nadCrd } from '../../../src/lib/install/nad-crd.js';
import { bundleKubeAgent } from '../kube/helpers.js';

const root = new URL('../../../', import.meta.url).pathname;

describe('embedded DRA protos', () => {
  it('src/agent/dra/protos.gen.ts is generated from deploy/proto, and the check fails on a stale copy', () => {
    const ok = spawnSync(process.execPath, ['scripts/gen-dra-protos.mjs', '--check'], { cwd: root, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'dr-gen-'));
    try {
      const stale = join(dir, 'protos.gen.ts');
      writeFileSync(stale, readFileSync(join(root, 'src/agent/dra/protos.gen.ts'), 'utf8').replace('"pool_name"', '"pool"'));
      const bad = spawnSync(process.execPath, ['scripts/gen-dra-protos.mjs', '--check', '--out', stale], { cwd: root, encoding: 'utf8' });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('is out of date with deploy/proto; run node scripts/gen-dra-protos.mjs');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const HOST_IP = '169.254.213.1';
const NS_IP = '169.254.213.2';

describe.skipIf(!privileged.ok)(`the bundled agent's DRA plugin ${privileged.reason}`, () => {
  const lab = new NetnsLab('dr');
  let server: ApiServer;
  let dir = '';
  let bundle = '';
  let agent: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dr-bundle-'));
    // Alone in a fresh directory: nothing under ../../../deploy/proto from there.
    const built = await bundleKubeAgent();
    bundle = join(dir, 'agent', 'agent.mjs');
    execFileSync('mkdir', ['-p', dirname(bundle)]);
    copyFileSync(built, bundle);
    rmSync(dirname(built), { recursive: true, force: true });
    const ns = await lab.netns('bun');
    await run('ip', ['link', 'del', 'drbun0']).catch(() => undefined);
    await run('ip', ['link', 'add', 'drbun0', 'type', 'veth', 'peer', 'name', 'drbun1']);
    await run('ip', ['link', 'set', 'drbun1', 'netns', ns]);
    await run('ip', ['addr', 'add', `${HOST_IP}/30`, 'dev', 'drbun0']);
    await run('ip', ['link', 'set', 'drbun0', 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${NS_IP}/30`, 'dev', 'drbun1']);
    await run('ip', ['-n', ns, 'link', 'set', 'drbun1', 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    server = await startApiServer({ host: HOST_IP });
    for (const crd of [...CRDS, nadCrd({})]) server.store.create(structuredClone(crd) as never);
    server.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'multinic-system' } });
    server.store.create({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'h1' } });
    const kubeconfig = join(dir, 'kubeconfig');
    await writeKubeconfig(kubeconfig, server.url);
    agent = start('ip', ['netns', 'exec', ns, process.execPath, bundle, 'run', '--kube', '--kubeconfig', kubeconfig, '--node', 'h1', '--socket', join(dir, 'agent.sock'), '--data-dir', join(dir, 'data'), '--rt-tables', join(dir, 'rt_tables'), '--metrics-addr', '', '--dra', '--kubelet-dir', join(dir, 'kubelet')]);
    const log = createWriteStream(join(dir, 'agent.log'));
    agent.stdout?.pipe(log);
    agent.stderr?.pipe(log);
  }, 120_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const gone = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await gone;
    }
    await server?.close();
    await run('ip', ['link', 'del', 'drbun0']).catch(() => undefined);
    await lab.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers GetInfo and NodePrepareResources from a bundle with no .proto file beside it', async () => {
    expect(existsSync(join(dir, 'deploy'))).toBe(false);
    const sockets = pluginSockets(join(dir, 'kubelet'), 'multinic.fms.io');
    await eventually(() => expect(existsSync(sockets.registrationSocket), readLog()).toBe(true), 60_000, 100);
    const { grpc, regPackage, draPackage } = await loadProtos();
    const Reg = (regPackage.pluginregistration as GrpcJs.GrpcObject).Registration as GrpcJs.ServiceClientConstructor;
    const reg = new Reg(`unix://${sockets.registrationSocket}`, grpc.credentials.createInsecure());
    const info = await call(reg, 'GetInfo', {});
    reg.close();
    expect(info).toEqual({ type: 'DRAPlugin', name: 'multinic.fms.io', endpoint: sockets.draSocket, supported_versions: ['v1.DRAPlugin'] });
    const v1 = ((((((draPackage.k8s as GrpcJs.GrpcObject).io as GrpcJs.GrpcObject).kubelet as GrpcJs.GrpcObject).pkg as GrpcJs.GrpcObject).apis as GrpcJs.GrpcObject).dra as GrpcJs.GrpcObject).v1 as GrpcJs.GrpcObject;
    const Dra = v1.DRAPlugin as GrpcJs.ServiceClientConstructor;
    const dra = new Dra(`unix://${sockets.draSocket}`, grpc.credentials.createInsecure());
    // A claim the API does not have: the plugin decodes the request, asks the API and says so per claim.
    const res = await call<{ claims: Record<string, { error: string; devices: unknown[] }> }>(dra, 'NodePrepareResources', { claims: [{ namespace: 'default', name: 'nics', uid: 'u-1' }] });
    dra.close();
    expect(res.claims['u-1']?.devices).toEqual([]);
    expect(res.claims['u-1']?.error).toBe('failed to prepare ResourceClaim default/nics: ResourceClaim default/nics not found');
  }, 90_000);

  const readLog = () => (existsSync(join(dir, 'agent.log')) ? readFileSync(join(dir, 'agent.log'), 'utf8').split('\n').slice(-20).join('\n') : '');
});

function call<T = unknown>(client: GrpcJs.Client, method: string, req: unknown): Promise<T> {
  const fn = (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, r: unknown) => void) => void>)[method]!.bind(client);
  return new Promise((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r as T))));
}
