// apply renders a resource.k8s.io/v1 DeviceClass per MultiNicNetwork (docs/dra.md) on a cluster
// that serves DRA, with the CEL selector over the slices' networks attribute; re-applying is a no-op.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { repoRoot, runCliAsync } from '../helpers/cli.js';

let server: ApiServer;
let dir: string;
let kubeconfig: string;
const cli = (args: string[]) => runCliAsync([...args, '--kubeconfig', kubeconfig]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'r1-apply-dra-'));
  server = await startApiServer();
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('apply and DRA DeviceClasses', () => {
  it('creates <network>.multinic.fms.io selecting the NICs that serve the network, then leaves it unchanged', async () => {
    const r = await cli(['apply', '-f', join(repoRoot, 'examples/network.yaml'), '--no-wait', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('deviceclass.resource.k8s.io/multi-nic-sample.multinic.fms.io created');
    const dc = server.store.get('resource.k8s.io/v1', 'DeviceClass', 'multi-nic-sample.multinic.fms.io') as { spec: { selectors: Array<{ cel: { expression: string } }> } } | undefined;
    expect(dc?.spec.selectors[0]?.cel.expression).toBe('device.driver == "multinic.fms.io" && ("," + device.attributes["multinic.fms.io"].networks + ",").contains(",multi-nic-sample,")');
    expect((JSON.parse(r.stdout) as { objects: Array<{ kind: string; name: string }> }).objects.map((o) => `${o.kind}/${o.name}`)).toEqual(['MultiNicNetwork/multi-nic-sample', 'DeviceClass/multi-nic-sample.multinic.fms.io']);
    const again = await cli(['apply', '-f', join(repoRoot, 'examples/network.yaml'), '--no-wait']);
    expect(again.stderr).toContain('deviceclass.resource.k8s.io/multi-nic-sample.multinic.fms.io unchanged');
  });
});
