import { describe, expect, it } from 'vitest';
import { classifyIperf3Error, jsonDocuments, parseIperf3Client, parseIperf3Server } from '../../../src/lib/check/iperf3.js';
import { CLIENT_ADDR, SERVER_ADDR, fixture, fixtureJson } from './fixtures.js';

describe('parseIperf3Client on real iperf3 -J output', () => {
  it.each([
    ['client-success.json', 1],
    ['client-success-p2.json', 2],
  ])('%s: receiver bandwidth, streams, source address', (file, streams) => {
    const raw = fixtureJson(file);
    const r = parseIperf3Client(fixture(file));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.receivedBps).toBe(raw.end.sum_received.bits_per_second);
    expect(r.sentBps).toBe(raw.end.sum_sent.bits_per_second);
    expect(r.bytesReceived).toBe(raw.end.sum_received.bytes);
    expect(r.retransmits).toBe(raw.end.sum_sent.retransmits);
    expect(r.receivedBps).toBeGreaterThan(0);
    expect(r.streams).toBe(streams);
    expect(r.localHosts).toEqual([CLIENT_ADDR]);
    expect(r.remoteHost).toBe(SERVER_ADDR);
    expect(r.remotePort).toBe(raw.start.connecting_to.port);
    expect(r.version).toMatch(/^iperf 3\./);
  });

  it.each([
    ['client-busy.json', 'busy', 'the server is busy running a test'],
    ['client-refused.json', 'refused', 'Connection refused'],
    ['client-no-route.json', 'unreachable', 'Network is unreachable'],
    ['client-timeout.json', 'timeout', 'Connection timed out'],
    ['client-bind-failure.json', 'bind', 'Cannot assign requested address'],
    ['client-bind-dev-missing.json', 'no-device', 'No such device'],
    ['server-bind-failure.json', 'bind', 'unable to start listener'],
  ])('%s is a %s failure carrying iperf3 error text', (file, kind, text) => {
    const r = parseIperf3Client(fixture(file));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.kind).toBe(kind);
    expect(r.error).toContain(text);
    expect(r.error).toBe(fixtureJson(file).error);
  });

  it('takes the last document of a retried client and ignores stderr noise around it', () => {
    const log = `${fixture('client-busy.json')}\niperf3: exiting\n${fixture('client-success.json')}\n`;
    const r = parseIperf3Client(log);
    expect(r.ok).toBe(true);
    const reversed = parseIperf3Client(`${fixture('client-success.json')}${fixture('client-refused.json')}`);
    expect(reversed).toMatchObject({ ok: false, kind: 'refused' });
  });

  it('classifies a log with no JSON by its text, and an empty log as unparsable', () => {
    expect(parseIperf3Client("iperf3: unrecognized option '--bind-dev'\n")).toMatchObject({ ok: false, kind: 'unsupported' });
    expect(parseIperf3Client('')).toMatchObject({ ok: false, kind: 'unparsable', error: 'the log is empty' });
    expect(parseIperf3Client('exec format error')).toMatchObject({ ok: false, kind: 'unparsable' });
  });

  it('a truncated document (client killed mid-write) is not taken as a result', () => {
    const text = fixture('client-success.json');
    expect(parseIperf3Client(text.slice(0, Math.floor(text.length / 2)))).toMatchObject({ ok: false });
  });
});

describe('jsonDocuments', () => {
  it('finds objects between text and skips braces inside strings', () => {
    expect(jsonDocuments('x {"a":"}{"} y {"b":[1,{"c":2}]} z')).toEqual([{ a: '}{' }, { b: [1, { c: 2 }] }]);
    expect(jsonDocuments('{"a": "\\"}"}')).toEqual([{ a: '"}' }]);
    expect(jsonDocuments('no json')).toEqual([]);
  });
});

describe('classifyIperf3Error', () => {
  it.each([
    ['unable to connect to server: No route to host', 'unreachable'],
    ['unable to receive control message: Connection reset by peer', 'other'],
  ])('%s -> %s', (msg, kind) => expect(classifyIperf3Error(msg)).toBe(kind));
});

describe('parseIperf3Server on real iperf3 -s --forceflush logs', () => {
  it('sees readiness, the port and the client source address', () => {
    expect(parseIperf3Server(fixture('server-text-success.log'))).toEqual({ listening: true, port: 5205, acceptedFrom: [CLIENT_ADDR], error: undefined });
  });
  it('sees a listener failure', () => {
    const r = parseIperf3Server(fixture('server-text-bind-failure.log'));
    expect(r.listening).toBe(false);
    expect(r.error).toBe('error - unable to start listener for connections: Cannot assign requested address');
  });
  it('a log before the server started says not listening', () => {
    expect(parseIperf3Server('')).toEqual({ listening: false, port: undefined, acceptedFrom: [], error: undefined });
  });
});
