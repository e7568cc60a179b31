// iperf3 output as plain data: the client's `-J` document (success or its `error` object) and the
// server's text log (`--forceflush`: "Server listening", "Accepted connection from"). Pure; the
// fixtures in test/fixtures/iperf3 are real iperf3 3.12 outputs (capture.sh).

/** Why iperf3 failed, classified from its error text (errno strings are glibc's strerror). */
export type Iperf3ErrorKind =
  | 'busy' // "the server is busy running a test. try again later"
  | 'refused' // ECONNREFUSED: nothing listening on the port, or the listener refused the ingress device
  | 'unreachable' // ENETUNREACH / EHOSTUNREACH: no route
  | 'timeout' // ETIMEDOUT / connect-timeout: no answer (no route on the far side, ARP failure, filtering)
  | 'bind' // EADDRNOTAVAIL: bound an address the namespace does not have
  | 'no-device' // ENODEV: --bind-dev names a device the namespace does not have
  | 'unsupported' // the image's iperf3 does not know an option we pass (too old)
  | 'unparsable' // the log holds no iperf3 JSON document at all
  | 'other';

export interface Iperf3Success {
  ok: true;
  /** Bytes per second the receiver counted, all streams. The figure we judge bandwidth by. */
  receivedBps: number;
  sentBps: number;
  /** TCP retransmits over all streams (sender side); undefined when the kernel did not report them. */
  retransmits: number | undefined;
  seconds: number;
  bytesReceived: number;
  streams: number;
  /** Source addresses iperf3's sockets actually used (one per stream, deduplicated, sorted). */
  localHosts: string[];
  remoteHost: string | undefined;
  remotePort: number | undefined;
  version: string | undefined;
}

export interface Iperf3Failure {
  ok: false;
  kind: Iperf3ErrorKind;
  /** iperf3's own message (or a description of what the log held). */
  error: string;
}

export type Iperf3Outcome = Iperf3Success | Iperf3Failure;

/** Classifies an iperf3 error message. */
export function classifyIperf3Error(message: string): Iperf3ErrorKind {
  const m = message.toLowerCase();
  if (m.includes('server is busy')) return 'busy';
  if (m.includes('connection refused')) return 'refused';
  if (m.includes('network is unreachable') || m.includes('no route to host')) return 'unreachable';
  if (m.includes('timed out') || m.includes('timeout')) return 'timeout';
  if (m.includes('cannot assign requested address')) return 'bind';
  if (m.includes('no such device')) return 'no-device';
  if (m.includes('unrecognized option') || m.includes('invalid option') || m.includes('not supported')) return 'unsupported';
  return 'other';
}

/**
 * Extracts the top-level JSON objects from a log that may also hold other lines (kubelet logs mix
 * stderr in; a retried client prints one document per attempt). Returns them in order.
 */
export function jsonDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('{', i);
    if (start < 0) break;
    const end = matchingBrace(text, start);
    if (end < 0) break;
    try {
      docs.push(JSON.parse(text.slice(start, end + 1)));
      i = end + 1;
    } catch {
      i = start + 1;
    }
  }
  return docs;
}

function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const isIperf3Doc = (d: unknown): d is Json => {
  const o = obj(d);
  return !!o && ('start' in o || 'error' in o) && ('end' in o || 'error' in o);
};

/**
 * Parses an iperf3 client's `-J` log. The last iperf3 document wins (a retried client's final
 * attempt). A document with an `error` key is a failure even when it holds partial results.
 */
export function parseIperf3Client(log: string): Iperf3Outcome {
  const docs = jsonDocuments(log).filter(isIperf3Doc);
  const doc = docs[docs.length - 1];
  if (!doc) {
    const text = log.trim();
    const kind = text ? classifyIperf3Error(text) : 'unparsable';
    const firstLine = text.split('\n').find((l) => l.trim()) ?? '';
    return {
      ok: false,
      kind: kind === 'other' ? 'unparsable' : kind,
      error: text ? `no iperf3 JSON in the log; it starts with: ${firstLine.slice(0, 200)}` : 'the log is empty',
    };
  }
  const error = str(doc.error);
  if (error !== undefined) return { ok: false, kind: classifyIperf3Error(error), error };
  const start = obj(doc.start) ?? {};
  const end = obj(doc.end) ?? {};
  const sent = obj(end.sum_sent);
  const received = obj(end.sum_received);
  if (!sent || !received) return { ok: false, kind: 'other', error: 'iperf3 JSON has no end.sum_sent/sum_received (a UDP test or an interrupted run)' };
  const connected = Array.isArray(start.connected) ? start.connected.map(obj).filter((c): c is Json => !!c) : [];
  const testStart = obj(start.test_start) ?? {};
  const connectingTo = obj(start.connecting_to) ?? {};
  return {
    ok: true,
    receivedBps: num(received.bits_per_second) ?? 0,
    sentBps: num(sent.bits_per_second) ?? 0,
    retransmits: num(sent.retransmits),
    seconds: num(received.seconds) ?? num(sent.seconds) ?? 0,
    bytesReceived: num(received.bytes) ?? 0,
    streams: num(testStart.num_streams) ?? connected.length,
    localHosts: [...new Set(connected.map((c) => str(c.local_host)).filter((h): h is string => !!h))].sort(),
    remoteHost: str(connectingTo.host) ?? str(connected[0]?.remote_host),
    remotePort: num(connectingTo.port) ?? num(connected[0]?.remote_port),
    version: str(start.version),
  };
}

/** What an iperf3 server's text log (`-s --forceflush`) says so far. */
export interface Iperf3ServerLog {
  /** The server printed "Server listening on PORT": it accepts connections now. */
  listening: boolean;
  port: number | undefined;
  /** Source addresses of control connections it accepted ("Accepted connection from A, port P"). */
  acceptedFrom: string[];
  /** A fatal error the server printed ("iperf3: error - ..."). */
  error: string | undefined;
}

/** Parses an iperf3 server's text log. */
export function parseIperf3Server(log: string): Iperf3ServerLog {
  const listening = /Server listening on (\d+)/.exec(log);
  const accepted = [...log.matchAll(/Accepted connection from ([0-9A-Fa-f:.]+), port \d+/g)].map((m) => m[1] as string);
  const error = /iperf3: (error - .*)/.exec(log)?.[1]?.trim();
  return {
    listening: !!listening,
    port: listening ? Number(listening[1]) : undefined,
    acceptedFrom: [...new Set(accepted)],
    error,
  };
}
