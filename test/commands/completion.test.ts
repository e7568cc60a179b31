// Completion as a user gets it: through kubectl's own plugin completion (`kubectl __complete multinic …`
// runs bin/kubectl_complete-multinic), with names from the API stand-in; and the bash script run by a
// real bash with the variables bash sets on TAB.
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../src/lab/apiserver/server.js';
import { writeKubeconfig } from '../../src/lab/kubeconfig.js';
import { CRDS } from '../../src/lib/crds/crds.gen.js';
import type { KubeObject } from '../../src/lib/k8s/meta.js';
import { repoRoot, runCli } from '../helpers/cli.js';

const kubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
const bin = join(repoRoot, 'bin');
let server: ApiServer;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mn-complete-'));
  server = await startApiServer();
  kubeconfig = join(dir, 'kubeconfig');
  await writeKubeconfig(kubeconfig, server.url);
  for (const crd of CRDS) server.store.create(structuredClone(crd) as unknown as KubeObject);
  for (const name of ['rdma-a', 'rdma-b', 'other']) {
    server.store.create({ apiVersion: 'multinic.fms.io/v1', kind: 'MultiNicNetwork', metadata: { name }, spec: { subnet: '10.9.0.0/16', ipam: '{}', plugin: { cniVersion: '0.3.0', type: 'macvlan' } } } as KubeObject);
  }
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

// Asynchronous: the API stand-in serves from this process.
const run = promisify(execFile);
async function kubectlComplete(...args: string[]): Promise<string[]> {
  const { stdout } = await run('kubectl', ['__complete', 'multinic', ...args], { env: { PATH: `${bin}:${process.env['PATH']}`, HOME: dir }, encoding: 'utf8' });
  return stdout.trim().split('\n');
}

describe.skipIf(!kubectl)('through kubectl\'s plugin completion (needs the kubectl binary)', () => {
  it('commands, flag values and network names from the cluster', async () => {
    expect(await kubectlComplete('sta')).toEqual(['status\tShow networks (hosts x NICs: pod block, pool use, routes), node NICs and agent readiness.', ':4']);
    expect(await kubectlComplete('check', '--pairs', '')).toEqual(['all', 'ring', 'star', ':4']);
    // -o values as kubectl lists its own (`kubectl __complete get pods -o ''`), for what this command prints.
    expect(await kubectlComplete('ipam', 'show', '-o', '')).toEqual(['json', 'yaml', 'name', 'jsonpath', 'jsonpath-as-json', 'jsonpath-file', 'wide', 'table', ':4']);
    expect(await kubectlComplete('status', '--kubeconfig', kubeconfig, 'rdma')).toEqual(['rdma-a', 'rdma-b', ':4']);
  });

  it('an unreachable cluster: no names, no error', async () => {
    const dead = join(dir, 'dead');
    writeFileSync(dead, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1', insecure-skip-tls-verify: true}}]\ncontexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n`);
    expect(await kubectlComplete('status', '--kubeconfig', dead, '')).toEqual([':4']);
  });
});

describe('kubectl multinic completion', () => {
  it('bash: the script completes like kubectl does, in a real bash', async () => {
    const script = runCli(['completion', 'bash']).stdout;
    writeFileSync(join(dir, 'c.bash'), script);
    const probe = async (words: string[]): Promise<string[]> => {
      const cmd = `source ${join(dir, 'c.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kubectl_multinic; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return (await run('bash', ['-c', cmd], { env: { PATH: `${bin}:${process.env['PATH']}`, HOME: dir }, encoding: 'utf8' })).stdout.trim().split('\n');
    };
    expect(await probe(['kubectl-multinic', 'lab', ''])).toEqual(['down', 'status', 'up']);
    expect(await probe(['kubectl-multinic', 'status', '--kubeconfig', kubeconfig, 'rdma-'])).toEqual(['rdma-a', 'rdma-b']);
  });

  it('zsh and fish scripts are printed; an unknown shell is a usage error', () => {
    expect(runCli(['completion', 'zsh']).stdout).toMatch(/^#compdef kubectl-multinic/);
    expect(runCli(['completion', 'fish']).stdout).toContain('complete -c kubectl-multinic');
    const bad = runCli(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bash, zsh, fish/);
  });
});
