// In-memory HostNetwork (src/agent/hostnet.ts) for unit tests of the route and shim reconcilers.
// Behaves like `ip -batch`: operations apply in the same order as IpHostNetwork sends them, the
// first failure stops the batch with what came before it applied, and the kernel's refusals
// (missing device, existing address or link, deleting what is not there) are reproduced.
import { LINK_OPS, type HostLink, type HostNetwork, type LinkOp, type NetOp } from '../../src/agent/hostnet.js';
import type { IpRule, IpTableRoute, RouteOp } from '../../src/lib/agent/route-diff.js';

export class FakeHostNetwork implements HostNetwork {
  links_: HostLink[] = [];
  rules_: IpRule[] = [
    { priority: 0, src: 'all', table: 'local' },
    { priority: 32766, src: 'all', table: 'main' },
    { priority: 32767, src: 'all', table: 'default' },
  ];
  tables = new Map<number, IpTableRoute[]>();
  sysctls = new Map<string, string>([['net.ipv4.ip_forward', '0']]);
  /** Every batch applied, in order. */
  readonly batches: NetOp[][] = [];
  /** Fails the operation with this index (counted across all batches) once. */
  failAtOp: number | undefined;
  private opCount = 0;
  private nextIndex = 100;

  addLink(name: string, addresses: string[] = [], extra: Partial<HostLink> = {}): HostLink {
    const l: HostLink = { name, ifindex: this.nextIndex++, up: true, addresses, ...extra };
    this.links_.push(l);
    return l;
  }

  async rules(): Promise<IpRule[]> {
    return structuredClone(this.rules_);
  }

  async routes(table: number): Promise<IpTableRoute[]> {
    return structuredClone(this.tables.get(table) ?? []);
  }

  async links(): Promise<HostLink[]> {
    return structuredClone(this.links_);
  }

  async sysctl(key: string): Promise<string | undefined> {
    return this.sysctls.get(key);
  }

  async setSysctl(key: string, value: string): Promise<void> {
    this.sysctls.set(key, value);
  }

  async apply(ops: NetOp[]): Promise<void> {
    const isLink = (o: NetOp): o is LinkOp => LINK_OPS.includes(o.op);
    const rank = (o: RouteOp) => ({ 'rule-del': 0, 'route-del': 1, 'route-replace': 2, 'rule-add': 3 })[o.op];
    const ordered = [...ops.filter(isLink), ...ops.filter((o): o is RouteOp => !isLink(o)).sort((a, b) => rank(a) - rank(b))];
    this.batches.push(ordered);
    for (const op of ordered) {
      if (this.failAtOp !== undefined && this.opCount++ === this.failAtOp) {
        this.failAtOp = undefined;
        throw new Error(`injected failure at ${op.op}`);
      }
      this.applyOne(op);
    }
  }

  private link(name: string): HostLink {
    const l = this.links_.find((x) => x.name === name);
    if (!l) throw new Error(`Cannot find device "${name}"`);
    return l;
  }

  private applyOne(op: NetOp): void {
    switch (op.op) {
      case 'macvlan-add':
        this.link(op.parent);
        if (this.links_.some((l) => l.name === op.name)) throw new Error('RTNETLINK answers: File exists');
        this.addLink(op.name, [], { kind: 'macvlan', parent: op.parent, up: false });
        return;
      case 'link-up':
        this.link(op.name).up = true;
        return;
      case 'link-down':
        this.link(op.name).up = false;
        return;
      case 'link-rename': {
        const l = this.link(op.name);
        if (l.up) throw new Error('RTNETLINK answers: Device or resource busy');
        if (this.links_.some((x) => x.name === op.to)) throw new Error('RTNETLINK answers: File exists');
        l.name = op.to;
        return;
      }
      case 'link-mtu':
        this.link(op.name).mtu = op.mtu;
        return;
      case 'link-del': {
        const l = this.link(op.name);
        this.links_ = this.links_.filter((x) => x !== l);
        for (const [id, routes] of this.tables) this.tables.set(id, routes.filter((r) => r.dev !== l.name));
        return;
      }
      case 'addr-add': {
        const l = this.link(op.dev);
        if (l.addresses.includes(op.address)) throw new Error('RTNETLINK answers: File exists');
        l.addresses.push(op.address);
        return;
      }
      case 'addr-del': {
        const l = this.link(op.dev);
        if (!l.addresses.includes(op.address)) throw new Error('RTNETLINK answers: Cannot assign requested address');
        l.addresses = l.addresses.filter((a) => a !== op.address);
        return;
      }
      case 'rule-add': {
        const [ip, len] = op.src.split('/');
        const used = new Set(this.rules_.map((r) => r.priority));
        let prio = 32765;
        while (used.has(prio)) prio--;
        this.rules_.push({ priority: prio, src: ip, srclen: Number(len), table: String(op.table) });
        return;
      }
      case 'rule-del': {
        const i = this.rules_.findIndex((r) => String(r.table) === String(op.table) && (op.priority === undefined || r.priority === op.priority) && (op.src === 'all' ? r.src === 'all' : `${r.src}/${r.srclen}` === op.src));
        if (i < 0) throw new Error('RTNETLINK answers: No such file or directory');
        this.rules_.splice(i, 1);
        return;
      }
      case 'route-replace': {
        this.link(op.dev);
        const routes = (this.tables.get(op.table) ?? []).filter((r) => r.dst !== op.dst);
        routes.push({ dst: op.dst, gateway: op.via, dev: op.dev, flags: [] });
        this.tables.set(op.table, routes);
        return;
      }
      case 'route-del': {
        const routes = this.tables.get(op.table) ?? [];
        const dst = op.dst.endsWith('/32') ? op.dst.slice(0, -3) : op.dst;
        if (!routes.some((r) => r.dst === op.dst || r.dst === dst)) throw new Error('RTNETLINK answers: No such process');
        this.tables.set(op.table, routes.filter((r) => r.dst !== op.dst && r.dst !== dst));
      }
    }
  }
}
