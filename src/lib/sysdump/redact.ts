// What `kubectl multinic sysdump` must never put in an archive: Secrets are never read at all; in
// the objects and logs it does read, values under secret-like keys, bearer tokens, JWTs, private
// keys and credentials in URLs are replaced with REDACTED, and managedFields and the
// last-applied-configuration annotation (a copy of the object as applied) are dropped. Pure.

export const REDACTED = '[REDACTED]';

/** Keys whose values are secret whatever they hold (case-insensitive, `-`/`_` ignored). */
const SECRET_KEY = /^(password|passwd|secret|token|bearertoken|accesstoken|refreshtoken|idtoken|apikey|clientsecret|clientkey|clientkeydata|clientcertificatedata|privatekey|authorization|credentials?|sessionkey)$/;

const TEXT_RULES: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, REDACTED],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, `$1${REDACTED}@`],
  [/(["']?(?:password|passwd|secret|token|api[-_]?key|client[-_]?secret|authorization)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,}]+)/gi, `$1${REDACTED}`],
];

/** Redacts secrets in free text (logs, messages). */
export function redactText(text: string): string {
  let out = text;
  for (const [re, to] of TEXT_RULES) out = out.replace(re, to);
  return out;
}

const isSecretKey = (k: string): boolean => SECRET_KEY.test(k.toLowerCase().replace(/[-_]/g, ''));

/** A deep copy of a Kubernetes object (or any JSON) with secrets redacted and noise dropped. */
export function redactObject<T>(value: T): T {
  const walk = (v: unknown, key: string | undefined): unknown => {
    if (key !== undefined && isSecretKey(key) && v !== null && v !== undefined && v !== '') return REDACTED;
    if (typeof v === 'string') return redactText(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, undefined));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (k === 'managedFields' || k === 'kubectl.kubernetes.io/last-applied-configuration') continue;
        out[k] = walk(x, k);
      }
      return out;
    }
    return v;
  };
  return walk(value, undefined) as T;
}
