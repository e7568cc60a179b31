// A small subset of CEL (https://github.com/google/cel-spec/blob/master/doc/langdef.md) over one DRA
// device, for the lab's scheduler stand-in (src/lab/dra.ts). It covers the forms DeviceClasses and
// claims in docs/dra.md and the Kubernetes DRA examples use: `device.driver`,
// `device.attributes["domain"].name` (or `["name"]`), string/int/bool literals, `== != < <= > >=`,
// `&& || !` (with CEL's error-absorbing short circuit), `+` on strings and ints, parentheses, and
// the string methods `contains`, `startsWith`, `endsWith`. Anything else is refused with
// UnsupportedCelError naming it: the lab never guesses what an expression means. The real
// kube-scheduler evaluates full CEL; production never runs this. Pure.
import type { Device } from './types.js';

export class UnsupportedCelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedCelError';
  }
}

/** A CEL runtime error (a missing attribute, a type mismatch): the device does not match, and why. */
export class CelRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelRuntimeError';
  }
}

type Value = string | number | boolean | AttrMap | DeviceRef;
interface AttrMap { kind: 'attrs'; domain?: string }
interface DeviceRef { kind: 'device' }

type Node =
  | { t: 'lit'; v: string | number | boolean }
  | { t: 'ident'; name: string }
  | { t: 'member'; obj: Node; name: string }
  | { t: 'index'; obj: Node; key: Node }
  | { t: 'call'; obj: Node; name: string; args: Node[] }
  | { t: 'unary'; op: '!' | '-'; x: Node }
  | { t: 'bin'; op: string; a: Node; b: Node };

const TOKEN = /\s*(?:(\d+)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)|(&&|\|\||==|!=|<=|>=|[<>!+\-().[\],]))/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    if (/^\s*$/.test(src.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m) throw new UnsupportedCelError(`unsupported CEL at offset ${at}: "${src.slice(at, at + 20)}"`);
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
  }
  return out;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
const unescape = (body: string): string =>
  body.replace(/\\(.)/g, (_m, c: string) => {
    const r = ESCAPES[c];
    if (r === undefined) throw new UnsupportedCelError(`string escape \\${c} is not in the lab's CEL subset`);
    return r;
  });

/** Parses an expression; throws UnsupportedCelError for anything outside the subset. */
export function parseCel(src: string): Node {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const eat = (t?: string) => {
    const v = toks[i];
    if (v === undefined || (t !== undefined && v !== t)) throw new UnsupportedCelError(`CEL "${src}": expected ${t ?? 'more'} at token ${i + 1}, found ${v ?? 'the end'}`);
    i += 1;
    return v;
  };
  const binary = (ops: string[], next: () => Node) => (): Node => {
    let a = next();
    while (ops.includes(peek() ?? '')) {
      const op = eat();
      a = { t: 'bin', op, a, b: next() };
    }
    return a;
  };
  const primary = (): Node => {
    const v = eat();
    if (v === '(') {
      const e = or();
      eat(')');
      return e;
    }
    if (/^\d+$/.test(v)) return { t: 'lit', v: Number(v) };
    if (v.startsWith('"') || v.startsWith("'")) return { t: 'lit', v: unescape(v.slice(1, -1)) };
    if (v === 'true' || v === 'false') return { t: 'lit', v: v === 'true' };
    if (/^[A-Za-z_]/.test(v)) return { t: 'ident', name: v };
    throw new UnsupportedCelError(`CEL "${src}": unexpected "${v}"`);
  };
  const postfix = (): Node => {
    let e = primary();
    for (;;) {
      if (peek() === '.') {
        eat('.');
        const name = eat();
        if (!/^[A-Za-z_]\w*$/.test(name)) throw new UnsupportedCelError(`CEL "${src}": bad field name "${name}"`);
        if (peek() === '(') {
          eat('(');
          const args: Node[] = [];
          while (peek() !== ')') {
            args.push(or());
            if (peek() === ',') eat(',');
          }
          eat(')');
          e = { t: 'call', obj: e, name, args };
        } else e = { t: 'member', obj: e, name };
      } else if (peek() === '[') {
        eat('[');
        const key = or();
        eat(']');
        e = { t: 'index', obj: e, key };
      } else return e;
    }
  };
  const unary = (): Node => (peek() === '!' || peek() === '-' ? { t: 'unary', op: eat() as '!' | '-', x: unary() } : postfix());
  const add = binary(['+', '-'], unary);
  const rel = binary(['==', '!=', '<', '<=', '>', '>='], add);
  const and = binary(['&&'], rel);
  const or: () => Node = binary(['||'], and);
  const root = or();
  if (i < toks.length) throw new UnsupportedCelError(`CEL "${src}": unexpected "${toks[i]}" after the expression`);
  return root;
}

/**
 * Evaluates a parsed expression for one device of `driver` (unqualified attribute names are in the
 * driver's domain, as in the API). Returns a boolean; a runtime error throws CelRuntimeError.
 */
export function evalCel(node: Node, device: Device, driver: string): boolean {
  const v = ev(node, device, driver);
  if (typeof v !== 'boolean') throw new CelRuntimeError(`the expression is not a boolean (got ${typeName(v)})`);
  return v;
}

const typeName = (v: Value): string => (typeof v === 'object' ? v.kind : typeof v === 'number' ? 'int' : typeof v === 'boolean' ? 'bool' : 'string');

function attribute(device: Device, driver: string, domain: string, name: string): Value {
  const key = domain === driver ? name : `${domain}/${name}`;
  const a = device.attributes?.[key] ?? (domain === driver ? device.attributes?.[`${domain}/${name}`] : undefined);
  if (!a) throw new CelRuntimeError(`no such key: ${name} (device ${device.name} has no attribute ${domain}/${name})`);
  if (a.string !== undefined) return a.string;
  if (a.int !== undefined) return a.int;
  if (a.bool !== undefined) return a.bool;
  if (a.version !== undefined) throw new UnsupportedCelError(`version attribute ${domain}/${name}: semver comparison is not in the lab's CEL subset`);
  throw new CelRuntimeError(`attribute ${domain}/${name} of device ${device.name} has no value`);
}

function ev(n: Node, device: Device, driver: string): Value {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'ident':
      if (n.name === 'device') return { kind: 'device' };
      throw new UnsupportedCelError(`unknown variable "${n.name}" (a device selector knows only "device")`);
    case 'member': {
      const o = ev(n.obj, device, driver);
      if (typeof o === 'object' && o.kind === 'device') {
        if (n.name === 'driver') return driver;
        if (n.name === 'attributes') return { kind: 'attrs' };
        throw new UnsupportedCelError(`device.${n.name} is not in the lab's CEL subset (driver, attributes)`);
      }
      if (typeof o === 'object' && o.kind === 'attrs' && o.domain !== undefined) return attribute(device, driver, o.domain, n.name);
      throw new UnsupportedCelError(`field .${n.name} of a ${typeName(o)}`);
    }
    case 'index': {
      const o = ev(n.obj, device, driver);
      const k = ev(n.key, device, driver);
      if (typeof k !== 'string') throw new CelRuntimeError(`map key must be a string, got ${typeName(k)}`);
      if (typeof o === 'object' && o.kind === 'attrs') return o.domain === undefined ? { kind: 'attrs', domain: k } : attribute(device, driver, o.domain, k);
      throw new UnsupportedCelError(`indexing a ${typeName(o)}`);
    }
    case 'call': {
      if (!['contains', 'startsWith', 'endsWith'].includes(n.name)) throw new UnsupportedCelError(`method ${n.name}() is not in the lab's CEL subset (contains, startsWith, endsWith)`);
      const o = ev(n.obj, device, driver);
      const args = n.args.map((a) => ev(a, device, driver));
      if (typeof o !== 'string' || args.length !== 1 || typeof args[0] !== 'string') throw new CelRuntimeError(`no matching overload for ${n.name} on ${typeName(o)}`);
      return n.name === 'contains' ? o.includes(args[0]) : n.name === 'startsWith' ? o.startsWith(args[0]) : o.endsWith(args[0]);
    }
    case 'unary': {
      const x = ev(n.x, device, driver);
      if (n.op === '!' && typeof x === 'boolean') return !x;
      if (n.op === '-' && typeof x === 'number') return -x;
      throw new CelRuntimeError(`no matching overload for ${n.op}${typeName(x)}`);
    }
    case 'bin': {
      if (n.op === '&&' || n.op === '||') {
        // CEL's logical operators are commutative over errors: false && error is false, true || error is true.
        const side = (x: Node): boolean | Error => {
          try {
            const v = ev(x, device, driver);
            if (typeof v !== 'boolean') return new CelRuntimeError(`no matching overload for ${n.op} on ${typeName(v)}`);
            return v;
          } catch (e) {
            if (e instanceof CelRuntimeError) return e;
            throw e;
          }
        };
        const a = side(n.a);
        const b = side(n.b);
        const decisive = n.op === '||';
        if (a === decisive || b === decisive) return decisive;
        if (a instanceof Error) throw a;
        if (b instanceof Error) throw b;
        return !decisive;
      }
      const a = ev(n.a, device, driver);
      const b = ev(n.b, device, driver);
      if (typeof a === 'object' || typeof b === 'object' || typeof a !== typeof b) throw new CelRuntimeError(`no matching overload for ${typeName(a)} ${n.op} ${typeName(b)}`);
      switch (n.op) {
        case '==':
          return a === b;
        case '!=':
          return a !== b;
        case '+':
          if (typeof a === 'boolean') break;
          return typeof a === 'string' ? a + (b as string) : a + (b as number);
        case '-':
          if (typeof a !== 'number') break;
          return a - (b as number);
        case '<':
          return a < b;
        case '<=':
          return a <= b;
        case '>':
          return a > b;
        case '>=':
          return a >= b;
      }
      throw new CelRuntimeError(`no matching overload for ${typeName(a)} ${n.op} ${typeName(b)}`);
    }
  }
}
