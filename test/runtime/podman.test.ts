// The plugin driven by a real container runtime: podman (Debian 4.3) with its CNI backend runs
// `multi-nic` from a private cni_plugin_dirs with a conflist in a private network_config_dir, the
// reference macvlan as delegate, the fake agent on a unix socket. No registry: the container is a
// tiny rootfs made of /usr/bin/ip and the libraries it links. Podman calls ADD when it sets up the
// container's netns and DEL when `--rm` tears it down.
//
// Machine quirks handled here, not hidden: this host mounts cgroups in hybrid mode (v1 controllers
// plus an empty /sys/fs/cgroup/unified), which crun refuses; podman runs in a private mount
// namespace with the unified mount removed (`unshare -m`), and with --cgroups disabled. The
// sandbox lacks CAP_SYS_RESOURCE, so podman's default nofile/nproc ulimits are lowered explicitly.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AllocateRequest } from '../../src/lib/agent/protocol.js';
import { cniPluginsDir, hasCniPlugins, privileged } from '../helpers/privileged.js';
import { FakeAgent } from '../fakes/agent-server.js';
import { isBuilt, nadConfig, notBuiltReason, pluginBin, sh, shQuiet } from '../cni/harness.js';

const which = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const reason = !privileged.ok
  ? privileged.reason
  : !hasCniPlugins
    ? `needs the reference CNI plugins in ${cniPluginsDir}`
    : !isBuilt
      ? notBuiltReason
      : !which('podman') || !which('crun')
        ? 'needs podman and crun (apt-get install podman)'
        : '';

const tag = `mncni${process.pid % 1000}`;
const FABRIC = `${tag}pf`;
const masters = [`${tag}e1`, `${tag}e2`];
const hybridCgroups = (() => {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').includes(' /sys/fs/cgroup/unified ');
  } catch {
    return false;
  }
})();

/** A rootfs holding /bin/ip and exactly the shared objects it links (ldd). */
function tinyRootfs(root: string): void {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  const ip = execFileSync('sh', ['-c', 'command -v ip']).toString().trim();
  copyFileSync(ip, join(root, 'bin/ip'));
  chmodSync(join(root, 'bin/ip'), 0o755);
  const libs = execFileSync('ldd', [ip]).toString().match(/\/\S+/g) ?? [];
  for (const lib of libs) {
    mkdirSync(join(root, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(root, lib));
  }
}

describe.skipIf(reason !== '')(`multi-nic through podman's CNI backend ${reason}`, () => {
  let dir: string;
  let agent: FakeAgent;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${tag}-podman-`));
    agent = await new FakeAgent(join(dir, 'agent.sock'), [
      {
        name: 'mnpod',
        plugin: { type: 'macvlan', cniVersion: '1.0.0', args: { mode: 'bridge' } },
        vlanMode: 'l3',
        nics: [
          { master: masters[0] as string, netAddress: '10.250.1.0/24', vlanCIDR: '192.168.0.0/18', podCIDR: '192.168.0.64/26' },
          { master: masters[1] as string, netAddress: '10.250.2.0/24', vlanCIDR: '192.168.64.0/18', podCIDR: '192.168.64.64/26' },
        ],
      },
    ]).start();
    await sh('ip', ['netns', 'add', FABRIC]);
    for (const [i, m] of masters.entries()) {
      await sh('ip', ['link', 'add', m, 'type', 'veth', 'peer', 'name', `f${i}`, 'netns', FABRIC]);
      await sh('ip', ['-n', FABRIC, 'link', 'set', `f${i}`, 'up']);
      await sh('ip', ['link', 'set', m, 'up']);
    }
    tinyRootfs(join(dir, 'rootfs'));
    mkdirSync(join(dir, 'cnibin'));
    mkdirSync(join(dir, 'cniconf'));
    symlinkSync(pluginBin, join(dir, 'cnibin/multi-nic'));
    const { cniVersion: _v, name: _n, ...plugin } = nadConfig({ name: 'mnpod', agentSocket: join(dir, 'agent.sock'), plugin: { type: 'macvlan', mode: 'bridge' } });
    writeFileSync(join(dir, 'cniconf/mnpod.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'mnpod', plugins: [plugin] }));
    writeFileSync(
      join(dir, 'containers.conf'),
      `[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${join(dir, 'cnibin')}", "${cniPluginsDir}"]\nnetwork_config_dir = "${join(dir, 'cniconf')}"\n`,
    );
  });

  afterAll(async () => {
    for (const m of masters) await shQuiet('ip', ['link', 'del', m]);
    await shQuiet('ip', ['netns', 'del', FABRIC]);
    await agent?.stop();
    if (dir) {
      // podman's storage may hold read-only layers and mounts under root/: unmount before removal.
      await shQuiet('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('podman run attaches two macvlan NICs via multi-nic, and --rm releases them', async () => {
    const podman = [
      'podman', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs',
      'run', '--rm', '--cgroups', 'disabled', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      '--network', 'mnpod', '--rootfs', join(dir, 'rootfs'), '/bin/ip', '-j', 'addr', 'show',
    ];
    const quoted = podman.map((a) => `'${a}'`).join(' ');
    const script = hybridCgroups ? `umount /sys/fs/cgroup/unified && exec ${quoted}` : `exec ${quoted}`;
    const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
    const out = await spawnCollect(hybridCgroups ? 'unshare' : 'sh', hybridCgroups ? ['-m', 'sh', '-c', script] : ['-c', script], env);
    expect(out.code, out.stderr).toBe(0);
    const links = JSON.parse(out.stdout) as Array<{ ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
    const v4 = Object.fromEntries(links.map((l) => [l.ifname, l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)]));

    const allocs = agent.callsTo('/v1/allocate');
    expect(allocs).toHaveLength(1);
    const req = allocs[0]?.body as AllocateRequest;
    expect(req.network).toBe('mnpod');
    expect(req.pod.ifName).toBe('eth0');
    expect(req.pod.containerID).toMatch(/^[0-9a-f]{64}$/);
    expect(req.pod.netns).toMatch(/^\/run\/netns\//);
    expect(allocs[0]?.status).toBe(200);
    // Inside the container: the agent's addresses on eth0-0 / eth0-1 (first addresses of each pod block after the gateway).
    expect(v4['eth0-0']).toEqual(['192.168.0.66/26']);
    expect(v4['eth0-1']).toEqual(['192.168.64.66/26']);
    // --rm: podman ran DEL, which released the allocation.
    expect(agent.callsTo('/v1/release').length).toBeGreaterThanOrEqual(1);
    expect(agent.holdings()).toEqual([]);
    expect(existsSync(req.pod.netns as string)).toBe(false);
  }, 120_000);
});

/** Runs a command to completion without blocking the event loop (the fake agent serves from it). */
function spawnCollect(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
