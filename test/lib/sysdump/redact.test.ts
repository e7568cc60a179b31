// What sysdump never lets into an archive, row by row; and that ordinary content passes unchanged.
import { describe, expect, it } from 'vitest';
import { REDACTED, redactObject, redactText } from '../../../src/lib/sysdump/redact.js';
import { validTarName } from '../../../src/lib/sysdump/tar.js';

describe('redactText', () => {
  it.each<[string, string, string]>([
    ['a bearer token', 'GET /api with Bearer abcdefgh12345678', `GET /api with Bearer ${REDACTED}`],
    ['a JWT anywhere', 'token eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl here', `token ${REDACTED} here`],
    ['credentials in a URL', 'proxy https://user:pa55@proxy:3128/', `proxy https://${REDACTED}@proxy:3128/`],
    ['password=...', 'login password=hunter2 ok', `login password=${REDACTED} ok`],
    ['a JSON token field', '{"token": "abc", "n": 1}', `{"token": ${REDACTED}, "n": 1}`],
    ['a private key block', 'k: -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- end', `k: ${REDACTED} end`],
    ['ordinary agent log', '{"level":"info","msg":"released leaked address","pool":"mnet-192.168.0.0-24"}', '{"level":"info","msg":"released leaked address","pool":"mnet-192.168.0.0-24"}'],
  ])('%s', (_n, input, want) => expect(redactText(input)).toBe(want));
});

describe('redactObject', () => {
  it('replaces secret-keyed values, drops managedFields and last-applied, keeps the rest', () => {
    const o = { metadata: { name: 'x', managedFields: [{}], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'yes' } }, spec: { clientSecret: 's', client_key_data: 'k', apiKey: '', subnet: '192.168.0.0/16' } };
    expect(redactObject(o)).toEqual({ metadata: { name: 'x', annotations: { keep: 'yes' } }, spec: { clientSecret: REDACTED, client_key_data: REDACTED, apiKey: '', subnet: '192.168.0.0/16' } });
  });
});

describe('validTarName', () => {
  it.each([['logs/ns/pod.log', true], ['../etc/passwd', false], ['/abs', false], ['a//b', false], ['a b', false], ['x'.repeat(101), false]] as const)('%s', (n, ok) => expect(validTarName(n)).toBe(ok));
});
