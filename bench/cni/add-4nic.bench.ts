// One pod, 4 NICs: wall time of one `multi-nic` ADD (agent allocate + 4 macvlan delegates with
// static IPAM) against what four single-NIC networks cost — 4 ADDs of the reference macvlan with
// host-local, one after the other as Multus runs them. Same run, interleaved per iteration, same
// pod-netns setup; each side DELs untimed. Also measured: delegates in sequence
// (MULTINIC_CNI_SEQUENTIAL=1), to see whether running them in parallel helps.
// Everything runs inside one "host" netns holding the 4 NICs (veths into a fabric netns). The agent
// is the fake (test/fakes/agent-server.ts, serving from this process) or, with --agent real, the
// real agent (src/agent, journal fsync included) running in the host netns from a state file.
//
//   bash bench/cni/run.sh [--runs 20] [--plugin bin/multi-nic] [--agent fake|real]
// Needs root, /usr/lib/cni and the built plugin. Prints a JSON report (also build/bench/cni-add-4nic.json).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeAgent } from '../../test/fakes/agent-server.js';
import { bundleAgent } from '../../test/agent/helpers/bundle.js';
import { stateYaml, testCidr, testNetwork } from '../../test/agent/helpers/network.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const runs = Number(opt('runs', '20'));
const agentKind = opt('agent', 'fake');
if (agentKind !== 'fake' && agentKind !== 'real') throw new Error(`--agent must be fake or real, not ${agentKind}`);
const plugin = resolve(opt('plugin', 'bin/multi-nic'));
const cniDir = '/usr/lib/cni';
const tag = `mncb${process.pid % 1000}`;
const FABRIC = `${tag}f`;
const HOST = `${tag}h`;
const masters = [1, 2, 3, 4].map((i) => `eth${i}`);
const podCidr = (i: number) => `192.168.${i * 64}.0/24`;

function sh(cmd: string, argv: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(cmd, argv, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => res({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    if (c.stdin) {
      c.stdin.on('error', () => undefined); // a child that exits without reading stdin
      c.stdin.end(opts.input);
    }
  });
}
async function waitFor(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
async function must(cmd: string, argv: string[]): Promise<void> {
  const r = await sh(cmd, argv);
  if (r.code !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr}`);
}

const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
const sock = join(dir, 'agent.sock');
let fake: FakeAgent | undefined;
let real: ChildProcess | undefined;
let realLog = '';

const ours = {
  cniVersion: '1.0.0',
  name: 'mnbench',
  type: 'multi-nic',
  ipam: { type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' },
  plugin: { type: 'macvlan', mode: 'bridge' },
  multiNICIPAM: true,
  agentSocket: sock,
};
// What four single-NIC networks are: four macvlan+host-local configs, one per host NIC.
const baseline = masters.map((m, i) => ({
  cniVersion: '1.0.0',
  name: `${tag}net${i}`,
  type: 'macvlan',
  master: m,
  mode: 'bridge',
  ipam: { type: 'host-local', ranges: [[{ subnet: podCidr(i), gateway: `192.168.${i * 64}.1` }]], routes: [{ dst: `192.168.${i * 64}.0/18` }] },
}));

const env = (command: string, containerID: string, netns: string, ifName: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'],
  CNI_COMMAND: command,
  CNI_CONTAINERID: containerID,
  CNI_NETNS: netns,
  CNI_IFNAME: ifName,
  CNI_PATH: cniDir,
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${containerID};K8S_POD_UID=${containerID}`,
  ...extra,
});

writeFileSync(join(dir, 'ours.json'), JSON.stringify(ours));
for (const [k, conf] of baseline.entries()) writeFileSync(join(dir, `net${k + 1}.json`), JSON.stringify(conf));

interface Sample { wallMs: number; cpuMs: number }

/**
 * Runs `script` as `/usr/bin/time sh -c script`: every variant pays the same one wrapper, and
 * time(1) reports user+sys of the whole process tree (the plugins and their IPAM children), a
 * figure the other tenants of this shared machine cannot inflate the way they inflate wall time.
 */
async function timed(script: string, e: NodeJS.ProcessEnv): Promise<Sample> {
  const cpuFile = join(dir, 'cpu');
  const r = await sh('ip', ['netns', 'exec', HOST, '/usr/bin/time', '-f', '%U %S', '-o', cpuFile, 'sh', '-c', script], { env: e });
  if (r.code !== 0) throw new Error(`${script}: ${r.stdout} ${r.stderr}`);
  const [u, sy] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
  return { wallMs: r.ms, cpuMs: ((u ?? 0) + (sy ?? 0)) * 1000 };
}

async function oursOnce(i: number, sequential: boolean): Promise<Sample> {
  const ns = `${tag}p`;
  await must('ip', ['netns', 'add', ns]);
  const id = `ours${sequential ? 's' : 'p'}${i}`;
  const extra = sequential ? { MULTINIC_CNI_SEQUENTIAL: '1' } : {};
  try {
    const s = await timed(`exec ${plugin} < ${dir}/ours.json > /dev/null`, env('ADD', id, `/run/netns/${ns}`, 'net1', extra));
    const d = await sh('ip', ['netns', 'exec', HOST, plugin], { env: env('DEL', id, `/run/netns/${ns}`, 'net1'), input: JSON.stringify(ours) });
    if (d.code !== 0) throw new Error(`multi-nic DEL failed: ${d.stdout}`);
    return s;
  } finally {
    await sh('ip', ['netns', 'del', ns]);
  }
}

async function baselineOnce(i: number): Promise<Sample> {
  const ns = `${tag}p`;
  await must('ip', ['netns', 'add', ns]);
  const id = `base${i}`;
  try {
    // Four single-NIC networks, one after another as Multus runs them.
    const script = [1, 2, 3, 4].map((k) => `CNI_IFNAME=net${k} ${cniDir}/macvlan < ${dir}/net${k}.json > /dev/null`).join(' && ');
    const s = await timed(script, env('ADD', id, `/run/netns/${ns}`, 'net1'));
    for (const [k, conf] of baseline.entries()) {
      await sh('ip', ['netns', 'exec', HOST, join(cniDir, 'macvlan')], { env: env('DEL', id, `/run/netns/${ns}`, `net${k + 1}`), input: JSON.stringify(conf) });
    }
    return s;
  } finally {
    await sh('ip', ['netns', 'del', ns]);
  }
}

const samples: Record<'ours' | 'oursSequential' | 'baseline', Sample[]> = { ours: [], oursSequential: [], baseline: [] };
try {
  await must('ip', ['netns', 'add', FABRIC]);
  await must('ip', ['netns', 'add', HOST]);
  for (const [i, m] of masters.entries()) {
    await must('ip', ['-n', HOST, 'link', 'add', m, 'type', 'veth', 'peer', 'name', `f${i}`, 'netns', FABRIC]);
    await must('ip', ['-n', FABRIC, 'link', 'set', `f${i}`, 'up']);
    await must('ip', ['-n', HOST, 'addr', 'add', `10.0.${i + 1}.1/24`, 'dev', m]);
    await must('ip', ['-n', HOST, 'link', 'set', m, 'up']);
  }
  // A veth reports carrier (operstate UP) some time after `link set up` (the kernel's linkwatch
  // runs it later, up to a second). Discovery skips links that are DOWN, as it should, and the
  // agent's first scan runs before its `ip monitor` starts, so a carrier change in between is
  // only seen at the next periodic re-scan (60 s): the agent then serves with no NICs. A real
  // node's NICs are up before its agent starts; wait for that here.
  await waitFor('host NICs carrier up', 10_000, async () => {
    const links = JSON.parse((await sh('ip', ['-n', HOST, '-json', 'link', 'show'])).stdout || '[]') as Array<{ ifname: string; operstate?: string }>;
    return masters.every((m) => links.some((l) => l.ifname === m && l.operstate === 'UP'));
  });
  if (agentKind === 'fake') {
    fake = await new FakeAgent(sock, [
      {
        name: 'mnbench',
        plugin: { type: 'macvlan', cniVersion: '1.0.0', args: { mode: 'bridge' } },
        vlanMode: 'l3',
        nics: masters.map((m, i) => ({ master: m, netAddress: `10.0.${i + 1}.0/24`, vlanCIDR: `192.168.${i * 64}.0/18`, podCIDR: podCidr(i) })),
      },
    ]).start();
  } else {
    // The real agent from a state file: the network and the CIDR the planner would write for one host.
    const network = testNetwork({ name: 'mnbench' });
    network.spec.masterNets = masters.map((_m, i) => `10.0.${i + 1}.0/24`);
    const cidr = testCidr(['bench'], 'mnbench', masters.map((dev, i) => ({ dev, net: i + 1 })));
    writeFileSync(join(dir, 'state.yaml'), stateYaml([network, cidr]));
    const agentJs = await bundleAgent();
    real = spawn('ip', ['netns', 'exec', HOST, process.execPath, agentJs, 'run', '--node', 'bench', '--socket', sock, '--state-file', join(dir, 'state.yaml'), '--data-dir', join(dir, 'agent'), '--rt-tables', join(dir, 'rt_tables'), '--enable-forwarding'], { stdio: ['ignore', 'ignore', 'pipe'] });
    real.stderr?.on('data', (c: Buffer) => (realLog += c.toString()));
    // Ready: reconciled once and serving all four NICs (an agent without them fails every ADD).
    const agent = real;
    await waitFor('the real agent to be ready with 4 NICs', 30_000, async () => {
      if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}:\n${realLog}`);
      const st = JSON.parse((await sh('curl', ['-s', '--unix-socket', sock, 'http://agent/v1/state'])).stdout || '{}') as { lastReconcile?: unknown; nics?: Array<{ interfaceName: string }> };
      return Boolean(st.lastReconcile) && masters.every((m) => st.nics?.some((n) => n.interfaceName === m));
    }).catch((e: Error) => {
      throw new Error(`${e.message}\n${realLog}`);
    });
  }
  // Warm-up: page in node, the plugin's modules and the Go binaries; not reported.
  const probe = await oursOnce(-1, false).catch((e: Error) => {
    throw new Error(`${e.message}\n${realLog}`);
  });
  void probe;
  await baselineOnce(-1);
  for (let i = 0; i < runs; i++) {
    // Rotate the order each iteration so drift on the shared machine hits every variant alike.
    const order: Array<() => Promise<Sample>> = [() => oursOnce(i, false), () => baselineOnce(i), () => oursOnce(i, true)];
    const names = ['ours', 'baseline', 'oursSequential'] as const;
    for (let k = 0; k < 3; k++) {
      const j = (k + i) % 3;
      samples[names[j] as keyof typeof samples].push(await (order[j] as () => Promise<Sample>)());
    }
  }
} finally {
  if (real) {
    real.kill('SIGTERM');
    await new Promise((r) => (real?.exitCode !== null ? r(null) : real.once('exit', r)));
  }
  await fake?.stop();
  await sh('ip', ['netns', 'del', HOST]);
  await sh('ip', ['netns', 'del', FABRIC]);
  rmSync(dir, { recursive: true, force: true });
  for (const b of baseline) rmSync(`/var/lib/cni/networks/${b.name}`, { recursive: true, force: true });
}

const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number;
const med = (k: keyof typeof samples, f: keyof Sample): number => q(samples[k].map((x) => x[f]), 0.5);
const stat = (k: keyof typeof samples) => {
  const wall = samples[k].map((x) => x.wallMs);
  const cpu = samples[k].map((x) => x.cpuMs);
  return { wallMedianMs: +q(wall, 0.5).toFixed(1), wallP90Ms: +q(wall, 0.9).toFixed(1), wallMinMs: +Math.min(...wall).toFixed(1), cpuMedianMs: +q(cpu, 0.5).toFixed(0) };
};
const ratio = (a: keyof typeof samples, b: keyof typeof samples, f: keyof Sample): number => +(med(a, f) / med(b, f)).toFixed(2);
const report = {
  apiVersion: 'multinic.fms.io/v1',
  kind: 'BenchReport',
  bench: `cni-add-4nic-${agentKind}-agent`,
  runs,
  cores: cpus().length,
  loadAverage: loadavg().map((x) => +x.toFixed(1)),
  plugin,
  agent: agentKind === 'fake' ? 'fake (test/fakes/agent-server.ts, in the bench process)' : 'real (src/agent, file state, durable journal), in the host netns',
  variants: {
    ours: { ...stat('ours'), note: 'one multi-nic ADD, 4 macvlan delegates in parallel' },
    oursSequential: { ...stat('oursSequential'), note: 'one multi-nic ADD, delegates one after another' },
    baseline: { ...stat('baseline'), note: '4 x (macvlan + host-local) ADD, sequential like Multus' },
  },
  ratio: {
    wallOursVsBaseline: ratio('ours', 'baseline', 'wallMs'),
    cpuOursVsBaseline: ratio('ours', 'baseline', 'cpuMs'),
    wallSequentialVsBaseline: ratio('oursSequential', 'baseline', 'wallMs'),
    wallParallelVsSequential: ratio('ours', 'oursSequential', 'wallMs'),
  },
  goal: 'wallOursVsBaseline <= 1.2',
};
mkdirSync('build/bench', { recursive: true });
writeFileSync(`build/bench/cni-add-4nic-${agentKind}.json`, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
