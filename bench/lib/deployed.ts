// What ships, for the benches: the image's runtime (Node 24, scripts/node24.sh), the agent as the
// DaemonSet starts it (bin/multinic-agent run --kube, NODE_ENV=production, NODE_OPTIONS from
// src/lib/install/render.ts) and the Kubernetes API it talks to (the lab's stand-in, dist/lab/apiserver,
// in the same netns, CRDs and objects applied with kubectl). Needs dist/ (npx tsc -p tsconfig.build.json).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/host/exec.js';
import { AGENT_NODE_OPTIONS } from '../../src/lib/install/render.js';

/** Path of the Node 24 binary the image ships (fetched once into build/cache when not on PATH). */
export function node24(): string {
  return execFileSync('bash', ['scripts/node24.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export function needDist(): void {
  for (const f of ['dist/agent/bin.js', 'dist/lab/apiserver/main.js']) {
    if (!existsSync(f)) throw new Error(`bench: ${f} missing: build first (npx tsc -p tsconfig.build.json)`);
  }
}

export interface Standin {
  proc: ChildProcess;
  kubeconfig: string;
}

/**
 * Starts the API stand-in in netns `ns` (writing `dir`/kubeconfig) and applies deploy/crds, the
 * agent's namespace, a Node `node` and `objectsYaml`.
 */
export async function startStandin(ns: string, dir: string, node: string, nodeName: string, objectsYaml: string): Promise<Standin> {
  const kubeconfig = join(dir, 'kubeconfig');
  const proc = spawn('ip', ['netns', 'exec', ns, node, 'dist/lab/apiserver/main.js', '--port', '0', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    proc.stdout?.once('data', () => res());
    proc.once('exit', (c) => rej(new Error(`API stand-in exited with ${c}`)));
  });
  const base = `apiVersion: v1
kind: Node
metadata: {name: ${nodeName}, labels: {kubernetes.io/hostname: ${nodeName}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: multinic-system}
`;
  writeFileSync(join(dir, 'objects.yaml'), `${base}---\n${objectsYaml}`);
  const kubectl = (args: string[]) => run('ip', ['netns', 'exec', ns, 'kubectl', '--kubeconfig', kubeconfig, ...args]);
  await kubectl(['apply', '-f', 'deploy/crds']);
  await kubectl(['apply', '-f', join(dir, 'objects.yaml')]);
  return { proc, kubeconfig };
}

/**
 * MULTINIC_BENCH_AGENT_CPU_PROF=DIR: the agent writes a V8 CPU profile there when it stops (where
 * its time went in a bench; the profiler itself costs ~40 ms of CPU a second).
 */
const cpuProf = process.env.MULTINIC_BENCH_AGENT_CPU_PROF;

/** argv (after `ip netns exec NS`) and env of the agent as the DaemonSet runs it, against `kubeconfig`. */
export function deployedAgent(node: string, o: { nodeName: string; socket: string; kubeconfig: string; dataDir: string; rtTables: string; extra?: string[]; nodeOptions?: string }): { argv: string[]; env: NodeJS.ProcessEnv } {
  return {
    argv: [node, 'bin/multinic-agent', 'run', '--kube', '--kubeconfig', o.kubeconfig, '--namespace', 'multinic-system', '--node', o.nodeName, '--socket', o.socket, '--data-dir', o.dataDir, '--rt-tables', o.rtTables, ...(o.extra ?? [])],
    env: { ...process.env, NODE_ENV: 'production', NODE_OPTIONS: `${o.nodeOptions ?? AGENT_NODE_OPTIONS}${cpuProf ? ` --cpu-prof --cpu-prof-dir=${cpuProf}` : ''}` },
  };
}

/** Goal check for a report: `figure <= goal`. */
export const verdict = (figure: number | null | undefined, goal: number): 'met' | 'not met' => (figure !== null && figure !== undefined && figure <= goal ? 'met' : 'not met');
