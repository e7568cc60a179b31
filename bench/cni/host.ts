// The CNI benches' test bed: one "host" netns holding 4 NICs (veths into a fabric netns), the agent
// (the real one as deployed: Node 24, bin/multinic-agent run --kube against the API stand-in in the
// host netns, claiming its blocks and mirroring IPPools; or the fake from test/fakes), the two configs
// compared (one 4-NIC multi-nic network; four macvlan + host-local single-NIC networks, what the same
// pod costs without us) and the helpers to run plugins there. Used by add-4nic and concurrent.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAgent } from '../../test/fakes/agent-server.js';
import { call } from '../../test/agent/helpers/http.js';
import { stateYaml, testNetwork } from '../../test/agent/helpers/network.js';
import { deployedAgent, needDist, node24, startStandin } from '../lib/deployed.js';

export const cniDir = '/usr/lib/cni';
export const masters = [1, 2, 3, 4].map((i) => `eth${i}`);
export const podCidr = (i: number) => `192.168.${i * 64}.0/24`;

export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function sh(cmd: string, argv: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<ShResult> {
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

export async function must(cmd: string, argv: string[]): Promise<void> {
  const r = await sh(cmd, argv);
  if (r.code !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr}`);
}

export async function waitFor(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Median and other quantiles of a sample (nearest rank). */
export const quantile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number;

export interface TimedSample {
  wallMs: number;
  /** user + sys of the whole process tree, in milliseconds (1 ms resolution). */
  cpuMs: number;
  /** Peak RSS of the largest process in the tree, KiB. */
  rssKiB: number;
}

/**
 * Runs `sh -c script` in netns `netns` under bash's `time` keyword inside `/usr/bin/time -f %M`:
 * CPU is the children's rusage (user + sys of the plugins and everything they exec) printed to the
 * millisecond (`TIMEFORMAT=%3U %3S`; time(1)'s %U/%S print whole 10 ms steps, which made a
 * one-process VERSION read 0), peak RSS is time(1)'s %M. Every variant pays the same wrappers.
 */
export async function timedIn(netns: string, dir: string, script: string, env: NodeJS.ProcessEnv): Promise<TimedSample> {
  const cpuFile = join(dir, 'cpu');
  const rssFile = join(dir, 'rss');
  const inner = 'exec 3>&2; TIMEFORMAT="%3U %3S"; { time sh -c "$1" 2>&3; } 2>"$2"';
  const r = await sh('ip', ['netns', 'exec', netns, '/usr/bin/time', '-f', '%M', '-o', rssFile, 'bash', '-c', inner, 'bash', script, cpuFile], { env });
  if (r.code !== 0) throw new Error(`${script}: ${r.stdout} ${r.stderr}`);
  const [u, sy] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number);
  if (!Number.isFinite(u) || !Number.isFinite(sy)) throw new Error(`${script}: no CPU figure in ${readFileSync(cpuFile, 'utf8')}`);
  const rss = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
  return { wallMs: r.ms, cpuMs: ((u as number) + (sy as number)) * 1000, rssKiB: Number.isFinite(rss) ? rss : 0 };
}

export class BenchHost {
  readonly dir: string;
  readonly sock: string;
  readonly HOST: string;
  readonly FABRIC: string;
  /** The 4-NIC multi-nic network (what the NAD carries). */
  readonly ours: Record<string, unknown>;
  /** Four single-NIC networks: macvlan + host-local, one per host NIC. */
  readonly baseline: Array<Record<string, unknown>>;
  private fake: FakeAgent | undefined;
  private real: ChildProcess | undefined;
  private api: ChildProcess | undefined;
  private realLog = '';
  /** The runtime of the real agent and the stand-in: the image's Node 24. */
  readonly node: string;

  constructor(
    readonly tag: string,
    readonly agentKind: 'fake' | 'real',
  ) {
    if (agentKind === 'real') needDist();
    this.node = agentKind === 'real' ? node24() : process.execPath;
    this.dir = mkdtempSync(join(tmpdir(), `${tag}-`));
    this.sock = join(this.dir, 'agent.sock');
    this.HOST = `${tag}h`;
    this.FABRIC = `${tag}f`;
    this.ours = {
      cniVersion: '1.0.0',
      name: 'mnbench',
      type: 'multi-nic',
      ipam: { type: 'multi-nic-ipam', hostBlock: 6, interfaceBlock: 2, vlanMode: 'l3' },
      plugin: { type: 'macvlan', mode: 'bridge' },
      multiNICIPAM: true,
      agentSocket: this.sock,
    };
    this.baseline = masters.map((m, i) => ({
      cniVersion: '1.0.0',
      name: `${tag}net${i}`,
      type: 'macvlan',
      master: m,
      mode: 'bridge',
      ipam: { type: 'host-local', ranges: [[{ subnet: podCidr(i), gateway: `192.168.${i * 64}.1` }]], routes: [{ dst: `192.168.${i * 64}.0/18` }], dataDir: join(this.dir, 'host-local') },
    }));
    writeFileSync(join(this.dir, 'ours.json'), JSON.stringify(this.ours));
    for (const [k, conf] of this.baseline.entries()) writeFileSync(join(this.dir, `net${k + 1}.json`), JSON.stringify(conf));
  }

  /** Plugin environment as a runtime sets it. */
  env(command: string, containerID: string, netns: string, ifName: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env['PATH'],
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerID,
      CNI_NETNS: netns,
      CNI_IFNAME: ifName,
      CNI_PATH: cniDir,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${containerID};K8S_POD_UID=${containerID}`,
      ...extra,
    };
  }

  /** Shell command running the baseline's four ADDs (or DELs) one after another, as Multus does. */
  baselineScript(): string {
    return [1, 2, 3, 4].map((k) => `CNI_IFNAME=net${k} ${cniDir}/macvlan < ${this.dir}/net${k}.json > /dev/null`).join(' && ');
  }

  async up(): Promise<void> {
    await must('ip', ['netns', 'add', this.FABRIC]);
    await must('ip', ['netns', 'add', this.HOST]);
    await must('ip', ['-n', this.HOST, 'link', 'set', 'lo', 'up']); // the API stand-in listens on 127.0.0.1
    for (const [i, m] of masters.entries()) {
      await must('ip', ['-n', this.HOST, 'link', 'add', m, 'type', 'veth', 'peer', 'name', `f${i}`, 'netns', this.FABRIC]);
      await must('ip', ['-n', this.FABRIC, 'link', 'set', `f${i}`, 'up']);
      await must('ip', ['-n', this.HOST, 'addr', 'add', `10.0.${i + 1}.1/24`, 'dev', m]);
      await must('ip', ['-n', this.HOST, 'link', 'set', m, 'up']);
    }
    // A veth reports carrier (operstate UP) up to a second after `link set up`; a real node's NICs
    // are up before its agent starts.
    await waitFor('host NICs carrier up', 10_000, async () => {
      const links = JSON.parse((await sh('ip', ['-n', this.HOST, '-json', 'link', 'show'])).stdout || '[]') as Array<{ ifname: string; operstate?: string }>;
      return masters.every((m) => links.some((l) => l.ifname === m && l.operstate === 'UP'));
    });
    if (this.agentKind === 'fake') {
      this.fake = await new FakeAgent(this.sock, [
        {
          name: 'mnbench',
          plugin: { type: 'macvlan', cniVersion: '1.0.0', args: { mode: 'bridge' } },
          vlanMode: 'l3',
          nics: masters.map((m, i) => ({ master: m, netAddress: `10.0.${i + 1}.0/24`, vlanCIDR: `192.168.${i * 64}.0/18`, podCIDR: podCidr(i) })),
        },
      ]).start();
      return;
    }
    // The real agent as the DaemonSet runs it, against the API stand-in holding the network: it
    // claims this host's blocks itself and mirrors every allocation to IPPools.
    const network = testNetwork({ name: 'mnbench' });
    network.spec.masterNets = masters.map((_m, i) => `10.0.${i + 1}.0/24`);
    const api = await startStandin(this.HOST, this.dir, this.node, 'bench', stateYaml([network]));
    this.api = api.proc;
    const a = deployedAgent(this.node, { nodeName: 'bench', socket: this.sock, kubeconfig: api.kubeconfig, dataDir: join(this.dir, 'agent'), rtTables: join(this.dir, 'rt_tables'), extra: ['--enable-forwarding'] });
    const real = spawn('ip', ['netns', 'exec', this.HOST, ...a.argv], { stdio: ['ignore', 'ignore', 'pipe'], env: a.env });
    this.real = real;
    real.stderr?.on('data', (c: Buffer) => (this.realLog += c.toString()));
    // Ready: reconciled, serving all four NICs, and the four blocks claimed (else every ADD fails).
    await waitFor('the real agent to be ready with 4 NICs and 4 pools', 60_000, async () => {
      if (real.exitCode !== null) throw new Error(`agent exited with ${real.exitCode}:\n${this.realLog}`);
      const st = (await call(this.sock, 'GET', '/v1/state').catch(() => ({ body: {} }))).body as { lastReconcile?: unknown; nics?: Array<{ interfaceName: string }>; networks?: Array<{ pools?: unknown[] }> };
      return Boolean(st.lastReconcile) && masters.every((m) => st.nics?.some((n) => n.interfaceName === m)) && st.networks?.[0]?.pools?.length === masters.length;
    }).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.realLog}`);
    });
  }

  /** What the real agent logged (empty for the fake), for error messages. */
  get agentLog(): string {
    return this.realLog;
  }

  get agentPid(): number | undefined {
    return this.real?.pid;
  }

  /**
   * CPU the real agent has used so far, in ms (undefined with the fake agent, which runs in the
   * bench's own process): every thread's run time from /proc/PID/task/TID/schedstat (ns), plus
   * what its reaped children used (/proc/PID/stat cutime + cstime, clock ticks of 10 ms). Windows
   * between two readings give the agent's share of a request, which the plugin's process tree
   * (timedIn) does not hold. `ip netns exec` execs the agent in place, so the PID is node's.
   */
  agentCpuMs(): number | undefined {
    const pid = this.real?.pid;
    if (this.agentKind !== 'real' || pid === undefined) return undefined;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!argv.some((a) => a.endsWith('multinic-agent'))) throw new Error(`bench/cni: PID ${pid} runs ${argv.join(' ')}, not the agent`);
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended between readdir and read
      }
    }
    // Fields after the ")" of comm: state is field 3, cutime/cstime are 16/17.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const childTicks = Number(f[13]) + Number(f[14]);
    const ms = ns / 1e6 + childTicks * 10;
    if (!Number.isFinite(ms)) throw new Error(`bench/cni: no CPU figure for the agent (PID ${pid})`);
    return ms;
  }

  async down(): Promise<void> {
    const real = this.real;
    if (real) {
      real.kill('SIGTERM');
      await new Promise((r) => (real.exitCode !== null ? r(null) : real.once('exit', r)));
    }
    const api = this.api;
    if (api && api.exitCode === null) {
      api.kill('SIGTERM');
      await new Promise((r) => api.once('exit', r));
    }
    await this.fake?.stop();
    await sh('ip', ['netns', 'del', this.HOST]);
    await sh('ip', ['netns', 'del', this.FABRIC]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
