// A lab with the product installed, for the lab tests: `lab up` (HOSTS x NICS, after a `lab down`
// of anything a crashed run left under the prefix), `install --wait` with the given flags, and
// optionally `apply -f` of a network, each through the built CLI and asserted to succeed (the
// timeouts are bounds for a loaded 2-core machine, not assertions on speed). `down` takes the lab
// down and removes its directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { KubeApi } from '../../src/kube/api.js';
import { connect } from '../../src/kube/client.js';
import { DRIVER, type ResourceSlice } from '../../src/lib/dra/types.js';
import { R } from '../../src/lib/k8s/resources.js';
import { runCliAsync, type CliRun } from './cli.js';

export interface InstalledLab {
  /** The test's temporary directory; the lab's own is `labDir` under it. */
  dir: string;
  labDir: string;
  kubeconfig: string;
  kube: KubeApi;
  /** The CLI against the lab (`--kubeconfig` added). */
  cli(args: string[], timeoutMs?: number): Promise<CliRun>;
  down(): Promise<void>;
}

export interface InstalledLabOptions {
  /** The lab's prefix (its netns names). */
  prefix: string;
  /** Start of the temporary directory's name. */
  tmpPrefix: string;
  hosts: number;
  nics: number;
  /** Flags for `install` besides --wait --timeout 120s (e.g. --dra). */
  install?: string[];
  /** The network file to apply, given the temporary directory (written there by the caller if need be). */
  network?: (dir: string) => string;
  /** Environment for `lab up` (its supervisor and agents inherit it) and every CLI call, e.g. MULTINIC_LAB_PCIE_ROOTS. */
  env?: Record<string, string>;
}

export async function installedLab(o: InstalledLabOptions): Promise<InstalledLab> {
  const dir = mkdtempSync(join(tmpdir(), o.tmpPrefix));
  const labDir = join(dir, 'lab');
  const down = async (): Promise<void> => {
    await runCliAsync(['lab', 'down', '--prefix', o.prefix, '--dir', labDir]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await runCliAsync(['lab', 'down', '--prefix', o.prefix, '--dir', labDir]);
    const up = await runCliAsync(['lab', 'up', '--prefix', o.prefix, '--hosts', String(o.hosts), '--nics', String(o.nics), '--dir', labDir, '-o', 'json'], { timeoutMs: 180_000, ...(o.env ? { env: o.env } : {}) });
    expect(up.code, up.stderr).toBe(0);
    const kubeconfig = (JSON.parse(up.stdout) as { kubeconfig: string }).kubeconfig;
    const lab: InstalledLab = {
      dir,
      labDir,
      kubeconfig,
      kube: await connect({ kubeconfig }),
      cli: (args, timeoutMs = 180_000) => runCliAsync([...args, '--kubeconfig', kubeconfig], { timeoutMs, ...(o.env ? { env: o.env } : {}) }),
      down,
    };
    const inst = await lab.cli(['install', ...(o.install ?? []), '--wait', '--timeout', '120s']);
    expect(inst.code, inst.stderr).toBe(0);
    if (o.network) {
      const applied = await lab.cli(['apply', '-f', o.network(dir), '--timeout', '150s'], 200_000);
      expect(applied.code, applied.stderr).toBe(0);
    }
    return lab;
  } catch (e) {
    // A lab half made is taken down here: the caller never got it to take down.
    await down();
    throw e;
  }
}

/** The node's ResourceSlice of `driver` (ours by default) as the API has it now, if any. */
export async function nodeSlice(kube: KubeApi, node: string, driver: string = DRIVER): Promise<ResourceSlice | undefined> {
  return (await kube.list<ResourceSlice>(R.ResourceSlice, { fieldSelector: `spec.nodeName=${node},spec.driver=${driver}` })).items[0];
}
