// Throwaway network namespaces for kernel tests of the agent (style §11). Every name a test makes
// starts with its own prefix (mnag...), and cleanup deletes only what this helper created.
import { ipBatch, ipJson, run } from '../../../src/host/exec.js';

export class NetnsLab {
  private readonly namespaces: string[] = [];
  constructor(readonly prefix: string) {}

  name(suffix: string): string {
    const n = `${this.prefix}${suffix}`;
    if (n.length > 15) throw new Error(`netns/link name ${n} is longer than 15 characters`);
    return n;
  }

  /** Creates a namespace with lo up; removes a leftover of the same name from a crashed run first. */
  async netns(suffix: string): Promise<string> {
    const n = this.name(suffix);
    await run('ip', ['netns', 'del', n]).catch(() => undefined);
    await run('ip', ['netns', 'add', n]);
    this.namespaces.push(n);
    await ipBatch(['link set lo up'], { netns: { name: n } });
    return n;
  }

  /** A veth pair with ends `a` in netns `na` and `b` in `nb`, both up. */
  async veth(na: string, a: string, nb: string, b: string): Promise<void> {
    const tmpA = this.name(`t${Math.random().toString(36).slice(2, 7)}`);
    const tmpB = this.name(`u${Math.random().toString(36).slice(2, 7)}`);
    await run('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
    await run('ip', ['link', 'set', tmpA, 'netns', na, 'name', a]);
    await run('ip', ['link', 'set', tmpB, 'netns', nb, 'name', b]);
    await ipBatch([`link set ${a} up`], { netns: { name: na } });
    await ipBatch([`link set ${b} up`], { netns: { name: nb } });
  }

  ip(ns: string, lines: string[]): Promise<void> {
    return ipBatch(lines, { netns: { name: ns } });
  }

  json<T = Record<string, unknown>>(ns: string, args: string[]): Promise<T[]> {
    return ipJson<T>(args, { name: ns });
  }

  exec(ns: string, cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}) {
    return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  /** Pings `dst` from `ns` (optionally from interface `dev`); true when a reply came. */
  async ping(ns: string, dst: string, dev?: string): Promise<boolean> {
    try {
      await this.exec(ns, 'ping', ['-c', '1', '-W', '1', ...(dev ? ['-I', dev] : []), dst], { timeoutMs: 5000 });
      return true;
    } catch {
      return false;
    }
  }

  async cleanup(): Promise<void> {
    for (const n of this.namespaces.reverse()) await run('ip', ['netns', 'del', n]).catch(() => undefined);
    this.namespaces.length = 0;
  }
}
