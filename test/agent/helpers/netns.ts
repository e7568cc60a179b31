// Throwaway network namespaces for kernel tests of the agent (docs/conventions.md §11). Every name a test makes
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

  /**
   * Waits until the links are operationally up in `ns` (a veth's carrier comes up to a second after
   * `link set up`), so an agent started next discovers them settled instead of seeing them change.
   */
  async settled(ns: string, names: string[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const links = await this.json<{ ifname: string; operstate?: string }>(ns, ['link', 'show']);
      const notUp = names.filter((n) => links.find((l) => l.ifname === n)?.operstate !== 'UP');
      if (notUp.length === 0) return;
      if (Date.now() > deadline) throw new Error(`links ${notUp.join(', ')} in ${ns} not up after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
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
