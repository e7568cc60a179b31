import { describe, expect, it } from 'vitest';
import { JournalCorruptError, RECORD_HEADER_BYTES, decodeJournal, decodeSingle, encodeRecord } from '../../../src/agent/ipam/journal.js';

const recs = [{ s: 1, op: 'allocate' }, { s: 2, op: 'release', note: 'ü' }, { s: 3, op: 'allocate', n: [1, 2, 3] }];
const file = Buffer.concat(recs.map(encodeRecord));
const lastStart = file.length - encodeRecord(recs[2]).length;

describe('journal framing', () => {
  it('round-trips records, including non-ASCII payloads', () => {
    expect(decodeJournal(file, 'j')).toEqual({ records: recs, goodBytes: file.length });
  });

  it('frames as length, CRC-32 and JSON', () => {
    const one = encodeRecord({ a: 1 });
    expect(one.readUInt32LE(0)).toBe(7);
    expect(one.subarray(RECORD_HEADER_BYTES).toString()).toBe('{"a":1}');
    // CRC-32 (IEEE, as zlib) of '{"a":1}', computed independently with Python's zlib.crc32.
    expect(one.readUInt32LE(4)).toBe(0x561bacaf);
  });

  it('a cut at every byte inside the last record keeps exactly the earlier records', () => {
    for (let cut = lastStart; cut < file.length; cut++) {
      const d = decodeJournal(file.subarray(0, cut), 'j');
      expect(d.records).toEqual(recs.slice(0, 2));
      expect(d.goodBytes).toBe(lastStart);
      expect(d.tornReason === undefined).toBe(cut === lastStart);
    }
  });

  it('a flipped payload bit in the last record is a torn tail (checksum mismatch)', () => {
    const bad = Buffer.from(file);
    bad.writeUInt8(bad.readUInt8(file.length - 3) ^ 0x01, file.length - 3);
    expect(decodeJournal(bad, 'j')).toEqual({ records: recs.slice(0, 2), goodBytes: lastStart, tornReason: 'checksum mismatch' });
  });

  it('zeroes after the last record (preallocated or torn) are discarded', () => {
    const padded = Buffer.concat([file, Buffer.alloc(100)]);
    const d = decodeJournal(padded, 'j');
    expect(d.records).toEqual(recs);
    expect(d.goodBytes).toBe(file.length);
  });

  it('corruption followed by a valid record is refused, naming file and offset', () => {
    const bad = Buffer.from(file);
    bad.writeUInt8(bad.readUInt8(RECORD_HEADER_BYTES + 2) ^ 0x01, RECORD_HEADER_BYTES + 2);
    expect(() => decodeJournal(bad, '/var/lib/multinic/ipam/journal')).toThrow(JournalCorruptError);
    expect(() => decodeJournal(bad, '/var/lib/multinic/ipam/journal')).toThrow(/journal is corrupt at byte 0: checksum mismatch, yet a valid record follows/);
  });

  it('a snapshot must be exactly one valid record', () => {
    const snap = encodeRecord({ kind: 'IpamSnapshot' });
    expect(decodeSingle(snap, 's')).toEqual({ kind: 'IpamSnapshot' });
    expect(() => decodeSingle(snap.subarray(0, snap.length - 1), 's')).toThrow(/record cut short/);
    expect(() => decodeSingle(Buffer.concat([snap, Buffer.from('x')]), 's')).toThrow(/trailing bytes/);
  });
});
