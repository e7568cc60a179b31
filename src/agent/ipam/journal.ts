// The on-disk framing of the IPAM journal and snapshot: a sequence of records, each
//   u32 LE payload length | u32 LE CRC-32 of the payload | payload (UTF-8 JSON)
// A crash can leave the last record torn (short, or with a wrong CRC); recovery keeps every record
// before it and cuts the file there. Corruption followed by valid records is not a torn tail: the
// records after it were acknowledged, so recovery refuses instead of dropping them silently.
import { crc32 } from 'node:zlib';

export const RECORD_HEADER_BYTES = 8;
/** Upper bound on one payload; a larger length field can only be garbage. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** The journal or snapshot cannot be read back safely; the agent must not start allocating. */
export class JournalCorruptError extends Error {
  readonly hint: string;
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`IPAM state file ${file} is corrupt at byte ${offset}: ${reason}`);
    this.name = 'JournalCorruptError';
    // Nothing rebuilds allocations from the IPPool resources: a restarted agent starts from an empty
    // journal and rewrites this node's IPPools from it (the journal is the truth), so the hint says
    // to save them first and to recreate the node's pods, whose addresses may be handed out again.
    this.hint =
      `save this node's IPPools first (kubectl get ippools.multinic.fms.io -o yaml > ippools-backup.yaml: the restarted agent rewrites them), ` +
      `then move ${file} aside and restart the agent; it starts with no allocations, so the addresses of the pods running on this node ` +
      'may be handed out again: delete and recreate those pods (the backup\'s spec.allocations names them), then run kubectl multinic doctor';
  }
}

export function encodeRecord(payload: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  out.writeUInt32LE(body.length, 0);
  out.writeUInt32LE(crc32(body), 4);
  body.copy(out, RECORD_HEADER_BYTES);
  return out;
}

/** Why the record at `off` is not a valid record, or its payload and end offset when it is. */
function readAt(buf: Buffer, off: number): { ok: true; payload: unknown; end: number } | { ok: false; reason: string } {
  if (buf.length - off < RECORD_HEADER_BYTES) return { ok: false, reason: 'record header cut short' };
  const len = buf.readUInt32LE(off);
  if (len === 0 || len > MAX_RECORD_BYTES) return { ok: false, reason: `impossible record length ${len}` };
  const end = off + RECORD_HEADER_BYTES + len;
  if (end > buf.length) return { ok: false, reason: 'record cut short' };
  const body = buf.subarray(off + RECORD_HEADER_BYTES, end);
  if (crc32(body) !== buf.readUInt32LE(off + 4)) return { ok: false, reason: 'checksum mismatch' };
  try {
    return { ok: true, payload: JSON.parse(body.toString('utf8')) as unknown, end };
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
}

export interface DecodedJournal {
  /** Payloads of the valid prefix, in order. */
  records: unknown[];
  /** Length of the valid prefix: the file is cut here. */
  goodBytes: number;
  /** Why the bytes after goodBytes were discarded (undefined: clean end). */
  tornReason?: string;
}

/**
 * Decodes the valid prefix of a journal. Throws JournalCorruptError when a bad record is followed
 * by a valid one somewhere later (not a torn tail).
 */
export function decodeJournal(buf: Buffer, file: string): DecodedJournal {
  const records: unknown[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = readAt(buf, off);
    if (!r.ok) {
      for (let probe = off + 1; probe + RECORD_HEADER_BYTES < buf.length; probe++) {
        if (readAt(buf, probe).ok) {
          throw new JournalCorruptError(file, off, `${r.reason}, yet a valid record follows at byte ${probe}`);
        }
      }
      return { records, goodBytes: off, tornReason: r.reason };
    }
    records.push(r.payload);
    off = r.end;
  }
  return { records, goodBytes: off };
}

/** Decodes a file that must hold exactly one valid record (the snapshot). */
export function decodeSingle(buf: Buffer, file: string): unknown {
  const r = readAt(buf, 0);
  if (!r.ok) throw new JournalCorruptError(file, 0, r.reason);
  if (r.end !== buf.length) throw new JournalCorruptError(file, r.end, 'trailing bytes after the snapshot record');
  return r.payload;
}
