// The Containerfile and the manifests must agree: the default image `install` deploys is the one the
// Containerfile builds (repository, tag = package.json version), and the paths the DaemonSet runs and
// copies from exist in that image. No container engine here, so the file is checked statically.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_OPTIONS, IMAGE_AGENT_PATH, IMAGE_CLI_PATH, IMAGE_CNI_PATH, defaultImage, renderInstall } from '../../src/lib/install/render.js';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const text = readFileSync(join(root, 'Containerfile'), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
/** Instructions with line continuations joined and comments dropped. */
const instructions: Instruction[] = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op!.toUpperCase(), args: rest.join(' ') };
  });
const stages: Instruction[][] = [];
const globalArgs: Record<string, string> = {};
for (const i of instructions) {
  if (i.op === 'FROM') stages.push([]);
  if (stages.length === 0 && i.op === 'ARG') {
    const [k, v] = i.args.split('=');
    globalArgs[k!] = v ?? '';
  }
  stages.at(-1)?.push(i);
}
const expand = (s: string): string => s.replace(/\$\{(\w+)\}/g, (_m, k: string) => globalArgs[k] ?? `\${${k}}`);
const labels = (stage: Instruction[]): Record<string, string> =>
  Object.fromEntries(
    stage
      .filter((i) => i.op === 'LABEL')
      .flatMap((i) => [...i.args.matchAll(/([\w.-]+)="([^"]*)"/g)].map((m) => [m[1]!, expand(m[2]!)])),
  );

describe('Containerfile', () => {
  const build = stages[0]!;
  const runtime = stages.at(-1)!;

  it('is multi-stage on Node 24 slim', () => {
    expect(stages.length).toBe(2);
    expect(globalArgs['NODE_IMAGE']).toMatch(/(^|\/)node:24-slim$/);
    expect(build[0]!.args).toBe('${NODE_IMAGE} AS build');
    expect(runtime[0]!.args).toBe('${NODE_IMAGE}');
  });

  it("builds the image install deploys by default: VERSION and the image label match package.json's version", () => {
    expect(globalArgs['VERSION']).toBe(pkg.version);
    const l = labels(runtime);
    expect(l['org.opencontainers.image.version']).toBe(pkg.version);
    expect(l['io.kubectl-multinic.image']).toBe(defaultImage(pkg.version));
    const ds = renderInstall({ version: pkg.version }).find((o) => o.kind === 'DaemonSet')!;
    expect(JSON.stringify(ds)).toContain(`"image":"${defaultImage(pkg.version)}"`);
    expect(text).toContain(`-t ${defaultImage(pkg.version)} `);
  });

  it('puts the CNI executable and the CLI where the DaemonSet expects them', () => {
    expect(labels(runtime)['io.kubectl-multinic.cni-path']).toBe(IMAGE_CNI_PATH);
    expect(runtime.some((i) => i.op === 'COPY' && i.args === `--from=build /src/build/cni/multi-nic ${IMAGE_CNI_PATH}`)).toBe(true);
    const bin = pkg.bin['kubectl-multinic']!;
    expect(runtime.some((i) => i.op === 'RUN' && i.args.includes(`ln -s /opt/multinic/app/${bin} ${IMAGE_CLI_PATH}`))).toBe(true);
    // The DaemonSet's agent command is the agent's own executable, linked where it expects it.
    const agentBin = pkg.bin['multinic-agent']!;
    expect(runtime.some((i) => i.op === 'RUN' && i.args.includes(`ln -s /opt/multinic/app/${agentBin} ${IMAGE_AGENT_PATH}`))).toBe(true);
    const ds = renderInstall({ version: pkg.version }).find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: { containers: Array<{ command: string[] }> } } } };
    expect(ds.spec.template.spec.containers[0]?.command).toEqual([IMAGE_AGENT_PATH]);
    expect(runtime.find((i) => i.op === 'ENTRYPOINT')?.args).toBe(JSON.stringify([IMAGE_CLI_PATH]).replace(/,/g, ', '));
    // The build stage produces what the runtime stage copies.
    expect(build.some((i) => i.op === 'RUN' && i.args.includes('bash scripts/build-cni.sh --out build/cni/multi-nic'))).toBe(true);
  });

  it("starts the agent under node, which takes the DaemonSet's NODE_OPTIONS", () => {
    // The agent's executable is a node script; its shebang runs node, which reads NODE_OPTIONS.
    expect(readFileSync(join(root, pkg.bin['multinic-agent']!), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(join(root, pkg.bin['multinic-agent']!)).mode & 0o111).toBe(0o111);
    // node refuses to start at all when NODE_OPTIONS holds a flag it does not allow there.
    expect(execFileSync(process.execPath, ['-p', '1'], { env: { ...process.env, NODE_OPTIONS: AGENT_NODE_OPTIONS }, encoding: 'utf8' }).trim()).toBe('1');
  });

  it('installs the runtime tools the agent shells out to', () => {
    const apt = runtime.filter((i) => i.op === 'RUN' && i.args.includes('apt-get install')).map((i) => i.args).join(' ');
    for (const p of ['iproute2', 'iperf3', 'util-linux']) expect(apt).toMatch(new RegExp(`\\b${p}\\b`));
    expect(apt).toContain('rm -rf /var/lib/apt/lists/*');
  });

  it('copies only paths that exist in the repo (the build context)', () => {
    const sources = build
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) expect(existsSync(join(root, s)), s).toBe(true);
    expect(statSync(join(root, 'scripts/build-cni.sh')).mode & 0o100).toBe(0o100);
  });
});
