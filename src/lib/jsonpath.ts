// kubectl's JSONPath template dialect (`kubectl get -o jsonpath=…`), as client-go's util/jsonpath
// parses and evaluates it, with kubectl's defaults (missing keys print nothing). Written from the
// dialect's documented and observed behaviour; test/…/jsonpath-kubectl.test.ts compares it with
// real kubectl output template by template.
//
// A template is literal text with actions in braces: {.a.b}, {.a[*]}, {.a[1:3]}, {.a[-1]},
// {.a['k']}, {.a[0,2]}, {..name}, {.a[?(@.x=="y")]}, {.a[?(@.x)]}, {"\n"}, {range .a[*]}…{end}.
// Several results of one action print separated by a space; maps and lists print as compact JSON
// (keys sorted, HTML characters escaped, as Go's encoding/json does); text outside braces is copied
// as it is (so a literal \n stays two characters, as in kubectl: write {"\n"} for a newline).

export class JsonPathError extends Error {
  constructor(
    message: string,
    /** 'parse': the template is malformed; 'execute': it does not fit the data. */
    readonly phase: 'parse' | 'execute',
  ) {
    super(message);
    this.name = 'JsonPathError';
  }
}

type SliceParam = { known: boolean; value: number; derived?: boolean };
type Node =
  | { t: 'list'; nodes: Node[] }
  | { t: 'text'; text: string }
  | { t: 'field'; name: string }
  | { t: 'wildcard' }
  | { t: 'recursive' }
  | { t: 'slice'; params: [SliceParam, SliceParam, SliceParam] }
  | { t: 'union'; lists: Node[] }
  | { t: 'filter'; left: Node; right: Node; op: string }
  | { t: 'int'; value: number }
  | { t: 'float'; value: number }
  | { t: 'bool'; value: boolean }
  | { t: 'ident'; name: string };

export interface ExecuteOptions {
  /** kubectl's --allow-missing-template-keys (default true: a missing field prints nothing). */
  allowMissingKeys?: boolean;
}

/** A parsed template: evaluate with {@link JsonPath.execute}. */
export class JsonPath {
  private constructor(
    readonly template: string,
    private readonly root: Node[],
  ) {}

  /** Parses a template; throws JsonPathError('parse') with kubectl's reason on a malformed one. */
  static parse(template: string): JsonPath {
    if (template === '') throw new JsonPathError('template format specified but no template given', 'parse');
    return new JsonPath(template, new Parser(template).parseTemplate());
  }

  /**
   * The template's output for `data`, as kubectl prints it (no newline added). With
   * `allowMissingKeys: false` (kubectl --allow-missing-template-keys=false) a field that none of
   * its inputs has is an error ("NAME is not found") instead of printing nothing.
   */
  execute(data: unknown, opts: ExecuteOptions = {}): string {
    return this.groups(data, opts)
      .map((g) => g.map(toText).join(' '))
      .join('');
  }

  /** kubectl's -o jsonpath-as-json: each action's results as a JSON array (4-space indent). */
  executeAsJson(data: unknown, opts: ExecuteOptions = {}): string {
    return this.groups(data, opts)
      .map((g) => `${goJson(g, '    ')}\n`)
      .join('');
  }

  private groups(data: unknown, opts: ExecuteOptions): V[][] {
    return new Evaluator(opts.allowMissingKeys ?? true).run(this.root, toValue(data));
  }
}

// ---- parsing ----------------------------------------------------------------------------------

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isAlnum = (c: string): boolean => c === '_' || /^[\p{L}\p{Nd}]$/u.test(c);
const isSpace = (c: string): boolean => c === ' ' || c === '\t';
const isEol = (c: string): boolean => c === '\r' || c === '\n';
const isTerminator = (c: string | undefined): boolean =>
  c === undefined || isSpace(c) || isEol(c) || '.,[]$@{}'.includes(c);

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;

class Parser {
  private pos = 0;
  constructor(private readonly input: string) {}

  private peek(): string | undefined {
    if (this.pos >= this.input.length) return undefined;
    return String.fromCodePoint(this.input.codePointAt(this.pos)!);
  }
  private next(): string | undefined {
    const c = this.peek();
    if (c !== undefined) this.pos += c.length;
    return c;
  }
  private fail(message: string): never {
    throw new JsonPathError(message, 'parse');
  }

  /** Text and actions at the top level. */
  parseTemplate(): Node[] {
    const out: Node[] = [];
    while (this.pos < this.input.length) {
      const open = this.input.indexOf('{', this.pos);
      const end = open < 0 ? this.input.length : open;
      if (end > this.pos) out.push({ t: 'text', text: this.input.slice(this.pos, end) });
      this.pos = end;
      if (open < 0) break;
      this.pos++;
      out.push({ t: 'list', nodes: this.parseAction() });
    }
    return out;
  }

  /** The inside of one {…}, up to and including the closing brace. */
  private parseAction(): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      const rest = this.input.slice(this.pos);
      if (rest.startsWith('}')) {
        this.pos++;
        return nodes;
      }
      if (rest.startsWith('[?(')) {
        nodes.push(this.parseFilter());
        continue;
      }
      if (rest.startsWith('..')) {
        if (nodes.at(-1)?.t === 'recursive') this.fail('invalid multiple recursive descent');
        this.pos += 2;
        nodes.push({ t: 'recursive' });
        const c = this.peek();
        if (c !== undefined && isAlnum(c)) nodes.push(this.parseField());
        continue;
      }
      const c = this.next();
      if (c === undefined || isEol(c)) this.fail('unclosed action');
      if (c === ' ' || c === '@' || c === '$') continue;
      if (c === '[') nodes.push(...this.parseArray());
      else if (c === '"' || c === "'") nodes.push(this.parseQuote(c));
      else if (c === '.') nodes.push(this.parseField());
      else if (c === '+' || c === '-' || isDigit(c)) {
        this.pos -= c.length;
        nodes.push(this.parseNumber());
      } else if (isAlnum(c)) {
        this.pos -= c.length;
        nodes.push(this.parseIdentifier());
      } else this.fail(`unrecognized character in action: ${codePoint(c)}`);
    }
  }

  /** A sub-expression given as text (union members, dict keys, filter operands), as an action. */
  private static sub(text: string): Node {
    const p = new Parser(`${text}}`);
    return { t: 'list', nodes: p.parseAction() };
  }

  private parseIdentifier(): Node {
    const start = this.pos;
    while (!isTerminator(this.peek())) this.next();
    const word = this.input.slice(start, this.pos);
    return word === 'true' || word === 'false' ? { t: 'bool', value: word === 'true' } : { t: 'ident', name: word };
  }

  private parseField(): Node {
    const start = this.pos;
    for (;;) {
      const c = this.peek();
      if (c === '\\') {
        this.next();
        this.next();
      } else if (isTerminator(c)) break;
      else this.next();
    }
    const raw = this.input.slice(start, this.pos);
    return raw === '*' ? { t: 'wildcard' } : { t: 'field', name: raw.replaceAll('\\', '') };
  }

  private parseNumber(): Node {
    const start = this.pos;
    if (this.peek() === '+' || this.peek() === '-') this.next();
    for (let c = this.peek(); c !== undefined && (c === '.' || isDigit(c)); c = this.peek()) this.next();
    const text = this.input.slice(start, this.pos);
    if (/^[+-]?\d+$/.test(text)) return { t: 'int', value: Number(text) };
    if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) return { t: 'float', value: Number(text) };
    this.fail(`cannot parse number ${text}`);
  }

  private parseArray(): Node[] {
    const start = this.pos;
    for (;;) {
      const c = this.next();
      if (c === undefined || c === '\n') this.fail('unterminated array');
      if (c === ']') break;
    }
    let text = this.input.slice(start, this.pos - 1);
    if (text === '*') text = ':';
    const parts = text.split(',');
    if (parts.length > 1) return [{ t: 'union', lists: parts.map((s) => Parser.sub(`[${s.trim()}]`)) }];
    const key = /^'([^']*)'$/.exec(text);
    if (key) return (Parser.sub(`.${key[1]}`) as { nodes: Node[] }).nodes;
    const m = /^(-?\d*)(:-?\d*)?(:-?\d*)?$/.exec(text);
    if (!m) this.fail(`invalid array index ${text}`);
    const params: [SliceParam, SliceParam, SliceParam] = [
      { known: false, value: 0 },
      { known: false, value: 0 },
      { known: false, value: 0 },
    ];
    for (let i = 0; i < 3; i++) {
      let v = m[i + 1] ?? '';
      if (v !== '') {
        if (i > 0) v = v.slice(1);
        if (i > 0 && v === '') continue;
        if (!/^-?\d+$/.test(v)) this.fail(`array index ${v} is not a number`);
        params[i] = { known: true, value: Number(v) };
      } else if (i === 1) params[1] = { known: true, value: params[0].value + 1, derived: true };
    }
    return [{ t: 'slice', params }];
  }

  private parseFilter(): Node {
    this.pos += 3;
    const start = this.pos;
    let opened = false;
    let closed = false;
    let pair = '';
    for (;;) {
      const c = this.next();
      if (c === undefined || c === '\n') this.fail('unterminated filter');
      if (c === '"' || c === "'") {
        if (!opened) {
          opened = true;
          pair = c;
        } else if (c === pair && this.input[this.pos - 2] !== '\\') closed = true;
      } else if (c === ')' && opened === closed) break;
    }
    if (this.next() !== ']') this.fail('unclosed array expect ]');
    const text = this.input.slice(start, this.pos - 2);
    const m = /^([^!<>=]+)([!<>=]+)(.+?)$/s.exec(text);
    if (!m) return { t: 'filter', left: Parser.sub(text), right: { t: 'list', nodes: [] }, op: 'exists' };
    return { t: 'filter', left: Parser.sub(m[1]!), right: Parser.sub(m[3]!), op: m[2]! };
  }

  private parseQuote(quote: string): Node {
    const start = this.pos - 1;
    for (;;) {
      const c = this.next();
      if (c === undefined || c === '\n') this.fail('unterminated quoted string');
      if (c === quote && this.input[this.pos - 2] !== '\\') break;
    }
    const raw = this.input.slice(start, this.pos);
    return { t: 'text', text: unquote(raw, quote, () => this.fail(`unquote string ${raw} error invalid syntax`)) };
  }
}

/** Go's strconv unquoting, for single as well as double quotes. */
function unquote(raw: string, quote: string, bad: () => never): string {
  const s = raw.slice(1, -1);
  let out = '';
  for (let i = 0; i < s.length; ) {
    const c = s[i]!;
    if (c === quote) bad();
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = s[i + 1];
    i += 2;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (e !== undefined && e in simple) out += simple[e];
    else if (e === quote) out += e;
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(i, i + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) bad();
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000 && e !== 'x')) bad();
      out += e === 'x' ? String.fromCharCode(cp) : String.fromCodePoint(cp);
      i += n;
    } else if (e !== undefined && e >= '0' && e <= '7') {
      const oct = s.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) bad();
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else bad();
  }
  return out;
}

// ---- values ------------------------------------------------------------------------------------

/** A value as the engine sees it: JSON data, with integers told apart from floats (Go's kinds). */
type V = null | boolean | string | { int: number } | { float: number } | { byte: number } | V[] | { map: Map<string, V> };

function toValue(x: unknown): V {
  if (x === null || x === undefined) return null;
  if (typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'number') return Number.isInteger(x) ? { int: x } : { float: x };
  if (typeof x === 'bigint') return { int: Number(x) };
  if (Array.isArray(x)) return x.map(toValue);
  if (typeof x === 'object') {
    if (typeof (x as { toJSON?: unknown }).toJSON === 'function') return toValue((x as { toJSON: () => unknown }).toJSON());
    const m = new Map<string, V>();
    for (const k of Object.keys(x).sort()) {
      const v = (x as Record<string, unknown>)[k];
      if (v !== undefined) m.set(k, toValue(v));
    }
    return { map: m };
  }
  return String(x);
}

const isMap = (v: V): v is { map: Map<string, V> } => typeof v === 'object' && v !== null && !Array.isArray(v) && 'map' in v;
const isNum = (v: V): v is { int: number } | { float: number } | { byte: number } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && ('int' in v || 'float' in v || 'byte' in v);
const numOf = (v: { int: number } | { float: number } | { byte: number }): number =>
  'int' in v ? v.int : 'float' in v ? v.float : v.byte;

function goTypeName(v: V): string {
  if (v === null) return 'interface {}';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return '[]interface {}';
  if (isMap(v)) return 'map[string]interface {}';
  return 'int' in v ? 'int64' : 'float' in v ? 'float64' : 'uint8';
}

/** Go's %v of a float64: shortest digits, exponent form below 1e-4 and from 1e6 (strconv's 'g', shortest). */
export function goFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return x.toFixed(Math.max(0, mant.replace(/^-/, '').replace('.', '').length - 1 - exp));
}

function goJsonNumber(x: number): string {
  if (!Number.isFinite(x)) throw new JsonPathError(`json: unsupported value: ${goFloat(x)}`, 'execute');
  return JSON.stringify(x);
}

/** Go's encoding/json: sorted keys, <>& and U+2028/9 escaped; `indent` gives MarshalIndent. */
function goJson(v: V, indent = '', depth = 0): string {
  const nl = indent ? `\n${indent.repeat(depth + 1)}` : '';
  const close = indent ? `\n${indent.repeat(depth)}` : '';
  const colon = indent ? ': ' : ':';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (Array.isArray(v)) return v.length ? `[${v.map((x) => nl + goJson(x, indent, depth + 1)).join(',')}${close}]` : '[]';
  if (isMap(v)) {
    if (v.map.size === 0) return '{}';
    return `{${[...v.map].map(([k, x]) => `${nl}${goJson(k)}${colon}${goJson(x, indent, depth + 1)}`).join(',')}${close}}`;
  }
  return goJsonNumber(numOf(v));
}

/** How one result prints: maps and lists as JSON, the rest as Go's fmt prints it. */
function toText(v: V): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v) || isMap(v)) return goJson(v);
  return 'float' in v ? goFloat(v.float) : String(numOf(v));
}

// ---- evaluation --------------------------------------------------------------------------------

const fail = (message: string): never => {
  throw new JsonPathError(message, 'execute');
};

type Kind = 'bool' | 'int' | 'float' | 'uint' | 'string';
function basicKind(v: V): Kind {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (isNum(v)) return 'int' in v ? 'int' : 'float' in v ? 'float' : 'uint';
  return fail('invalid type for comparison');
}

const OPERATORS = new Set(['==', '!=', '<', '>', '<=', '>=']);

function compare(op: string, a: V, b: V): boolean {
  if (!OPERATORS.has(op)) fail(`unrecognized filter operator ${op}`);
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka !== kb) fail('incompatible types for comparison');
  const x = isNum(a) ? numOf(a) : a;
  const y = isNum(b) ? numOf(b) : b;
  if (op === '==') return x === y;
  if (op === '!=') return x !== y;
  if (ka === 'bool') fail('invalid type for comparison');
  const lt = (x as number | string) < (y as number | string);
  switch (op) {
    case '<':
      return lt;
    case '>':
      return !lt && x !== y;
    case '<=':
      return lt || x === y;
    case '>=':
      return !lt;
    default:
      return fail(`unrecognized filter operator ${op}`);
  }
}

function children(v: V): V[] {
  if (isMap(v)) return [...v.map.values()];
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...Buffer.from(v, 'utf8')].map((b) => ({ byte: b }));
  return [];
}

class Evaluator {
  constructor(private readonly allowMissingKeys: boolean) {}
  private beginRange = 0;
  private inRange = 0;
  private endRange = 0;
  private lastEnd: Node | undefined;

  /** The results of each top-level node, ranges expanded (client-go's FindResults). */
  run(nodes: Node[], data: V): V[][] {
    const groups: V[][] = [];
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      const results = this.walk([data], node);
      if (this.endRange > 0 && this.endRange <= this.inRange) {
        this.endRange--;
        this.lastEnd = node;
        break;
      }
      if (this.beginRange > 0) {
        this.beginRange--;
        this.inRange++;
        const body = nodes.slice(i + 1);
        if (results.length) for (const item of results) groups.push(...this.run(body, item));
        else this.run(body, null);
        this.inRange--;
        const resume = body.indexOf(this.lastEnd as Node);
        if (this.lastEnd && resume >= 0) i += resume + 1;
        continue;
      }
      groups.push(results);
    }
    return groups;
  }

  private walk(input: V[], node: Node): V[] {
    switch (node.t) {
      case 'list': {
        let cur = input;
        for (const n of node.nodes) cur = this.walk(cur, n);
        return cur;
      }
      case 'text':
        return [node.text];
      case 'int':
        return input.map(() => ({ int: node.value }));
      case 'float':
        return input.map(() => ({ float: node.value }));
      case 'bool':
        return input.map(() => node.value);
      case 'field': {
        const found = input.flatMap((v) => (isMap(v) && v.map.has(node.name) ? [v.map.get(node.name)!] : []));
        // client-go's evalField: no input is no output; inputs none of which has the key fail unless allowed.
        if (found.length === 0 && input.length > 0 && !this.allowMissingKeys) fail(`${node.name} is not found`);
        return found;
      }
      case 'wildcard':
        return input.flatMap(children);
      case 'recursive':
        return this.recursive(input);
      case 'slice':
        return this.slice(input, node.params);
      case 'union':
        return node.lists.flatMap((l) => this.walk(input, l));
      case 'filter':
        return this.filter(input, node);
      case 'ident':
        if (node.name === 'range') {
          this.beginRange++;
          return input;
        }
        if (node.name === 'end') {
          if (this.inRange === 0) fail('not in range, nothing to end');
          this.endRange++;
          return [];
        }
        return fail(`unrecognized identifier ${node.name}`);
    }
  }

  private recursive(input: V[]): V[] {
    const out: V[] = [];
    for (const v of input) {
      if (v === null) continue;
      const kids = children(v);
      if (kids.length) out.push(v, ...this.recursive(kids));
    }
    return out;
  }

  private slice(input: V[], params: [SliceParam, SliceParam, SliceParam]): V[] {
    const out: V[] = [];
    for (const v of input) {
      if (v === null) continue;
      if (!Array.isArray(v)) fail(`${goTypeName(v)} is not array or slice`);
      const list = v as V[];
      const len = list.length;
      let start = params[0].known ? params[0].value : 0;
      if (start < 0) start += len;
      let end = params[1].known ? params[1].value : len;
      if (end < 0 || (end === 0 && params[1].derived)) end += len;
      if (end === start) return out;
      if (start >= len || start < 0) fail(`array index out of bounds: index ${start}, length ${len}`);
      if (end > len || end < 0) fail(`array index out of bounds: index ${end - 1}, length ${len}`);
      if (start > end) fail(`starting index ${start} is greater than ending index ${end}`);
      let step = 1;
      if (params[2].known) {
        if (params[2].value <= 0) fail('step must be > 0');
        step = params[2].value;
      }
      for (let i = start; i < end; i += step) out.push(list[i]!);
    }
    return out;
  }

  private filter(input: V[], node: { left: Node; right: Node; op: string }): V[] {
    const out: V[] = [];
    for (const v of input) {
      if (!Array.isArray(v)) fail(`${v === null ? '<nil>' : goTypeName(v)} is not array or slice and cannot be filtered`);
      for (const item of v as V[]) {
        if (node.op === 'exists') {
          let found = false;
          try {
            found = this.walk([item], node.left).length > 0;
          } catch {
            // kubectl: an error on the left side of an existence filter means "absent"
          }
          if (found) out.push(item);
          continue;
        }
        const lefts = this.walk([item], node.left);
        if (lefts.length === 0) continue;
        if (lefts.length > 1) fail('can only compare one element at a time');
        const rights = this.walk([item], node.right);
        if (rights.length === 0) continue;
        if (rights.length > 1) fail('can only compare one element at a time');
        if (compare(node.op, lefts[0]!, rights[0]!)) out.push(item);
      }
    }
    return out;
  }
}
