// A faithful fake of the agent's unix-socket API (src/lib/agent/protocol.ts) for CNI tests: real
// HTTP over a real unix socket, real selection (masters / nics / class), all-or-nothing allocation
// from per-NIC pod blocks keyed by podUID+containerID+ifName, idempotent release, lookup and GC.
// It fakes the protocol, not the kernel: it never touches links. Every request is recorded.
import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import type {
  AgentErrorBody,
  AllocateRequest,
  AllocateResponse,
  AllocatedNic,
  LookupRequest,
  ReleaseRequest,
} from '../../src/lib/agent/protocol.js';
import { formatIp, parseCidr, usableRange } from '../../src/lib/net/ip.js';

export interface FakeNic {
  /** Host NIC name (delegate master). */
  master: string;
  netAddress: string;
  vlanCIDR: string;
  /** This host's pod block on the NIC. */
  podCIDR: string;
  /** DeviceClass names this NIC belongs to. */
  classes?: string[];
  mtu?: number;
  pciAddress?: string;
}

export interface FakeNetwork {
  name: string;
  plugin: AllocateResponse['plugin'];
  /** l3: macvlan shim mode (gateway = first usable of the pod block, vlanCIDR routed via it). */
  vlanMode: AllocateResponse['vlanMode'];
  nics: FakeNic[];
  /** multiNICIPAM false: NICs are selected but get no address (the CNI passes the user's ipam through). */
  passThrough?: boolean;
}

export interface RecordedCall {
  path: string;
  body: unknown;
  status: number;
}

interface Held {
  key: string;
  network: string;
  pod: AllocateRequest['pod'];
  nics: AllocatedNic[];
}

type Reply = { status: number; body: unknown };

const err = (status: number, code: AgentErrorBody['code'], message: string, hint?: string): Reply => ({
  status,
  body: { apiVersion: 'v1', code, message, ...(hint ? { hint } : {}) } satisfies AgentErrorBody,
});

export class FakeAgent {
  readonly calls: RecordedCall[] = [];
  /** Answer every request with this instead (e.g. NotReady, Internal); undefined to serve normally. */
  override: Reply | undefined;
  /** Answer requests to one path (e.g. '/v1/lookup') with this instead; the other paths serve normally. */
  readonly overrideFor = new Map<string, Reply>();
  private readonly held = new Map<string, Held>();
  private readonly cursor = new Map<string, bigint>();
  private readonly networks = new Map<string, FakeNetwork>();
  private server: Server | undefined;

  constructor(
    readonly socketPath: string,
    networks: FakeNetwork[],
  ) {
    for (const n of networks) this.networks.set(n.name, n);
  }

  /** Addresses held now, as `network/container/ifName/podInterface=address`, sorted. */
  holdings(): string[] {
    return [...this.held.values()].flatMap((h) => h.nics.map((n) => `${h.network}/${h.pod.containerID}/${h.pod.ifName}/${n.podInterface}=${n.address}`)).sort();
  }

  callsTo(path: string): RecordedCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  async start(): Promise<this> {
    rmSync(this.socketPath, { force: true });
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: unknown;
        let reply: Reply;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
          reply = this.override ?? this.overrideFor.get(req.url ?? '') ?? this.route(req.method ?? '', req.url ?? '', body);
        } catch (e) {
          reply = err(400, 'InvalidRequest', `body is not JSON: ${(e as Error).message}`);
        }
        this.calls.push({ path: req.url ?? '', body, status: reply.status });
        const text = JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.socketPath, () => resolve());
    });
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private route(method: string, url: string, body: unknown): Reply {
    if (method === 'GET' && url === '/v1/healthz') return { status: 200, body: { apiVersion: 'v1', status: 'ok' } };
    if (method !== 'POST') return err(405, 'InvalidRequest', `${method} not allowed`);
    const b = body as { apiVersion?: string; network?: string };
    if (b?.apiVersion !== 'v1') return err(400, 'InvalidRequest', 'apiVersion must be v1');
    switch (url) {
      case '/v1/allocate':
        return this.allocate(body as AllocateRequest);
      case '/v1/release':
        return this.release(body as ReleaseRequest);
      case '/v1/lookup':
        return this.lookup(body as LookupRequest);
      case '/v1/gc':
        return this.gc(body as { network: string; keep: Array<{ containerID: string; ifName: string }> });
      default:
        return err(404, 'NotFound', `no route ${url}`);
    }
  }

  private keyOf(network: string, pod: { uid?: string; containerID: string; ifName: string }): string {
    return `${network}|${pod.uid ?? ''}|${pod.containerID}|${pod.ifName}`;
  }

  private response(net: FakeNetwork, nics: AllocatedNic[]): AllocateResponse {
    return { apiVersion: 'v1', network: net.name, plugin: net.plugin, vlanMode: net.vlanMode, nics };
  }

  private allocate(req: AllocateRequest): Reply {
    const net = this.networks.get(req.network);
    if (!net) return err(404, 'UnknownNetwork', `network "${req.network}" is not known on this node`, 'kubectl multinic status');
    if (!req.pod?.containerID || !req.pod.ifName) return err(400, 'InvalidRequest', 'pod.containerID and pod.ifName are required');
    const key = this.keyOf(net.name, req.pod);
    const existing = this.held.get(key);
    if (existing) return { status: 200, body: this.response(net, existing.nics) };
    const args = req.args ?? {};
    let chosen = net.nics;
    if (args.class !== undefined) {
      const known = net.nics.some((n) => n.classes?.length);
      chosen = chosen.filter((n) => n.classes?.includes(args.class as string));
      if (!known || chosen.length === 0) return err(422, 'UnknownDeviceClass', `DeviceClass "${args.class}" not found`, 'kubectl get deviceclasses');
    }
    if (args.masters) {
      const absent = args.masters.filter((m) => !chosen.some((n) => n.master === m));
      if (absent.length) return err(422, 'NoMatchingNic', `host NIC ${absent.join(', ')} not in network "${net.name}" on this node (has ${chosen.map((n) => n.master).join(', ')})`);
      chosen = args.masters.map((m) => chosen.find((n) => n.master === m) as FakeNic);
    } else if (args.nics !== undefined) {
      if (args.nics > chosen.length) return err(422, 'NoMatchingNic', `${args.nics} NICs requested but network "${net.name}" has ${chosen.length} on this node`);
      chosen = chosen.slice(0, args.nics);
    }
    // All or nothing: compute every address before committing any.
    const taken = new Set([...this.held.values()].flatMap((h) => h.nics.map((n) => n.address.split('/')[0])));
    const nics: AllocatedNic[] = [];
    const cursors: Array<[string, bigint]> = [];
    for (const [i, nic] of chosen.entries()) {
      const pod = parseCidr(nic.podCIDR);
      const vlan = parseCidr(nic.vlanCIDR);
      const r = usableRange(pod);
      const gateway = net.vlanMode === 'l3' ? formatIp(pod.family, r.first) : undefined;
      let address = '';
      if (!net.passThrough) {
        const start = this.cursor.get(nic.podCIDR) ?? r.first;
        let found: bigint | undefined;
        for (let k = 0n; k < r.count; k++) {
          const a = r.first + ((start - r.first + 1n + k) % r.count);
          const text = formatIp(pod.family, a);
          if (text !== gateway && !taken.has(text)) {
            found = a;
            break;
          }
        }
        if (found === undefined) return err(409, 'PoolExhausted', `pool ${net.name}-${nic.podCIDR} (${nic.master}) has no free address (${r.count} usable)`);
        cursors.push([nic.podCIDR, found]);
        address = `${formatIp(pod.family, found)}/${net.vlanMode === 'l3' ? pod.prefix : vlan.prefix}`;
      }
      const out: AllocatedNic = {
        index: i,
        podInterface: `${req.pod.ifName}-${i}`,
        master: nic.master,
        netAddress: nic.netAddress,
        address,
        routes: gateway ? [{ dst: nic.vlanCIDR, gw: gateway }] : [],
        vlanCIDR: nic.vlanCIDR,
        podCIDR: nic.podCIDR,
        pool: `${net.name}-${nic.podCIDR.replace('/', '-')}`,
      };
      if (gateway) out.gateway = gateway;
      if (nic.mtu) out.mtu = nic.mtu;
      if (nic.pciAddress) out.pciAddress = nic.pciAddress;
      nics.push(out);
    }
    for (const [c, a] of cursors) this.cursor.set(c, a);
    this.held.set(key, { key, network: net.name, pod: req.pod, nics });
    return { status: 200, body: this.response(net, nics) };
  }

  private release(req: ReleaseRequest): Reply {
    const key = this.keyOf(req.network, req.pod);
    const h = this.held.get(key);
    this.held.delete(key);
    return { status: 200, body: { apiVersion: 'v1', released: h ? h.nics.filter((n) => n.address).length : 0 } };
  }

  private lookup(req: LookupRequest): Reply {
    const net = this.networks.get(req.network);
    const h = this.held.get(this.keyOf(req.network, req.pod));
    if (!net || !h) return err(404, 'NotFound', `no allocation for container ${req.pod.containerID} ${req.pod.ifName} in network "${req.network}"`);
    return { status: 200, body: this.response(net, h.nics) };
  }

  private gc(req: { network: string; keep: Array<{ containerID: string; ifName: string }> }): Reply {
    const keep = new Set((req.keep ?? []).map((k) => `${k.containerID}|${k.ifName}`));
    let released = 0;
    for (const [key, h] of this.held) {
      if (h.network === req.network && !keep.has(`${h.pod.containerID}|${h.pod.ifName}`)) {
        released += h.nics.filter((n) => n.address).length;
        this.held.delete(key);
      }
    }
    return { status: 200, body: { apiVersion: 'v1', released } };
  }
}
