// Builds and tears down the lab's kernel topology (src/lib/lab/topology.ts) with real network
// namespaces, veth pairs and bridges. Every command goes through src/host/exec.ts, batched per
// namespace: a 3x2 lab is ~6 `ip` processes, not ~60.
import { ipBatch, run } from '../host/exec.js';
import type { LabTopology } from '../lib/lab/topology.js';

const SYSCTLS = [
  // L3 modes route pod traffic through the host: forwarding on, reverse-path filter loose (pod
  // sources arrive on shims and NICs that are not the route back to them).
  'net.ipv4.ip_forward=1',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
  'net.ipv6.conf.all.forwarding=1',
];

/** Creates the topology; on any failure removes whatever was created and rethrows. */
export async function createLabNetwork(t: LabTopology): Promise<void> {
  try {
    const root: string[] = [`link add ${t.mgmtBridge} type bridge`, `addr add ${t.mgmtGateway}/${t.mgmtPrefixLen} dev ${t.mgmtBridge}`, `link set ${t.mgmtBridge} up`];
    root.push(`netns add ${t.fabricNetns}`);
    for (const h of t.hosts) root.push(`netns add ${h.netns}`);
    await ipBatch(root);
    const links: string[] = [];
    for (const h of t.hosts) {
      links.push(`link add ${h.mgmtPeer} type veth peer name eth0 netns ${h.netns}`, `link set ${h.mgmtPeer} master ${t.mgmtBridge} up`);
      for (const n of h.nics) links.push(`link add ${n.name} netns ${h.netns} type veth peer name ${n.peer} netns ${t.fabricNetns}`);
    }
    await ipBatch(links);
    const fab: string[] = ['link set lo up'];
    for (const f of t.fabrics) fab.push(`link add ${f.name} type bridge`, `link set ${f.name} up`);
    for (const h of t.hosts) for (const n of h.nics) fab.push(`link set ${n.peer} master ${n.fabric} up`);
    await ipBatch(fab, { netns: { name: t.fabricNetns } });
    await Promise.all(
      t.hosts.map(async (h) => {
        await run('ip', ['netns', 'exec', h.netns, 'sysctl', '-q', '-w', ...SYSCTLS]);
        const cmds = ['link set lo up', `addr add ${h.mgmtIp}/${t.mgmtPrefixLen} dev eth0`, 'link set eth0 up', `route add default via ${t.mgmtGateway} dev eth0`];
        for (const n of h.nics) {
          cmds.push(`addr add ${n.ipv4}/${n.prefixLen} dev ${n.name}`);
          if (n.ipv6) cmds.push(`addr add ${n.ipv6}/64 dev ${n.name} nodad`);
          cmds.push(`link set ${n.name} up`);
        }
        await ipBatch(cmds, { netns: { name: h.netns } });
      }),
    );
  } catch (e) {
    await destroyLabNetwork(t.prefix).catch(() => undefined);
    throw e;
  }
}

/** Namespaces whose name carries the lab prefix (pods, hosts, fabric). */
export async function labNamespaces(prefix: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/**
 * Removes every namespace, link and process of the lab with this prefix, whether or not its state
 * file survived. Idempotent. Returns what it removed.
 */
export async function destroyLabNetwork(prefix: string): Promise<{ namespaces: string[]; links: string[]; killed: number[] }> {
  const namespaces = await labNamespaces(prefix);
  const killed: number[] = [];
  for (const ns of namespaces) {
    const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
    for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        /* already gone */
      }
    }
  }
  // Pod namespaces first, hosts next, fabric last: deleting a host netns destroys its veths.
  for (const ns of namespaces) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  const links: string[] = [];
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  for (const line of stdout.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (name && (name === `${prefix}-mgmt` || new RegExp(`^${prefix}m\\d+$`).test(name))) {
      await run('ip', ['link', 'del', name]).catch(() => undefined);
      links.push(name);
    }
  }
  return { namespaces, links, killed };
}
