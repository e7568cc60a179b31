// The TUI's state and its one reducer (docs/conventions.md §10): every key press, data update, resize and check
// event is an action; the views only draw a state. Pure and synchronous, so key sequences are
// tested as tables without Ink. Side effects (quit, refresh, run or cancel a check) are requests
// in the state (flags and tokens) that the app's hooks act on.
import type { CheckReport } from '../check/types.js';
import type { DoctorReport, Finding } from '../doctor/types.js';
import type { StatusReport } from '../status.js';
import { type ClusterData, gridOf, networkRows, nodeRows, podRows, statusOf } from './model.js';

export type { StatusReport };

export type ViewId = 'networks' | 'grid' | 'cell' | 'nodes' | 'pods' | 'check' | 'doctor' | 'finding';

/** One level of the navigation stack: a view, what it is about, its selection and filter. */
export interface Frame {
  view: ViewId;
  /** grid / cell: the network. */
  network?: string;
  /** cell: the host and NIC index. */
  host?: string;
  interfaceIndex?: number;
  /** finding: its index in the doctor report's findings. */
  finding?: number;
  /** Selected row (index into the filtered rows). */
  sel: number;
  /** grid: selected column. */
  col: number;
  filter: string;
}

export type PairChoice = 'ring' | 'all';

export interface CheckResultLine {
  id: string;
  status: 'pass' | 'fail' | 'skip';
  summary: string;
}

export interface CheckState {
  phase: 'pick' | 'running' | 'cancelling' | 'done' | 'failed';
  pairs: PairChoice;
  /** Bumped to ask the app to start a run / to cancel the running one. */
  runToken: number;
  cancelToken: number;
  /** The network the run is for (picked in the list). */
  network?: string;
  runId?: string;
  total: number;
  done: number;
  /** Newest last. */
  results: CheckResultLine[];
  cleanup?: string;
  report?: CheckReport;
  leftovers: string[];
  error?: string;
}

/** The doctor run the Doctor view shows: the cluster-wide one, or `doctor pod` for `pod`. */
export interface DoctorState {
  phase: 'idle' | 'running' | 'done' | 'failed';
  /** Bumped to ask the app to run the doctor (src/cluster/snapshot.ts gatherer, src/lib/doctor registry). */
  runToken: number;
  /** namespace/name for `doctor pod`; absent for the whole cluster. */
  pod?: string;
  report?: DoctorReport;
  error?: string;
}

export interface UiState {
  stack: Frame[];
  /** The `:` command bar while open. */
  command?: { text: string };
  /** The `/` filter being typed (applies to the current frame as typed). */
  filtering: boolean;
  help: boolean;
  size: { columns: number; rows: number };
  data?: ClusterData;
  /** Derived once per data update (the views and the reducer both read it). */
  report?: StatusReport;
  /** ms since epoch of the last data update. */
  updatedAt?: number;
  error?: string;
  /** Bumped by `r`: the app re-reads the cluster. */
  refreshToken: number;
  check: CheckState;
  doctor: DoctorState;
  /** Set once the app should exit (the check, if one runs, is cancelled and cleaned first). */
  quit: boolean;
  /** A transient message for the status line (unknown command, ...). */
  flash?: string;
}

/** A key press, independent of Ink: a printable `text`, or a named key. */
export interface Key {
  text?: string;
  name?: 'up' | 'down' | 'left' | 'right' | 'enter' | 'escape' | 'tab' | 'backspace' | 'pageup' | 'pagedown' | 'home' | 'end';
  ctrl?: boolean;
}

export type CheckProgress =
  | { kind: 'start'; runId: string; tests: number }
  | { kind: 'result'; result: CheckResultLine; done: number; total: number }
  | { kind: 'cleanup'; pods: number }
  | { kind: 'finished'; report: CheckReport; leftovers: string[] }
  | { kind: 'failed'; message: string };

export type Action =
  | { type: 'key'; key: Key }
  | { type: 'data'; data: ClusterData; at: number }
  | { type: 'error'; message: string }
  | { type: 'resize'; columns: number; rows: number }
  | { type: 'check'; event: CheckProgress }
  /** `token`: the runToken the run was started for (results of superseded runs are dropped). */
  | { type: 'doctor'; token: number; event: { kind: 'finished'; report: DoctorReport } | { kind: 'failed'; message: string } };

/** Views reachable from the command bar, with the words that name them (first is canonical). */
export const COMMANDS: ReadonlyArray<{ words: string[]; view?: ViewId; quit?: boolean; help: string }> = [
  { words: ['net', 'networks'], view: 'networks', help: 'networks list' },
  { words: ['nodes', 'no'], view: 'nodes', help: 'nodes and their NICs' },
  { words: ['pods', 'po'], view: 'pods', help: 'pods attached to our networks' },
  { words: ['check'], view: 'check', help: 'run iperf3 over every NIC' },
  { words: ['doctor', 'dr'], view: 'doctor', help: 'doctor findings, severity first' },
  { words: ['quit', 'q'], quit: true, help: 'leave' },
];

/** Rows the screen spends on anything but the body: title, column header, status line, spare. */
export const CHROME_ROWS = 5;

const frame = (view: ViewId, extra: Partial<Frame> = {}): Frame => ({ view, sel: 0, col: 0, filter: '', ...extra });

export function initialState(opts: { columns?: number; rows?: number; network?: string } = {}): UiState {
  const stack = [frame('networks')];
  if (opts.network) stack.push(frame('grid', { network: opts.network }));
  return {
    stack,
    filtering: false,
    help: false,
    size: { columns: opts.columns ?? 80, rows: opts.rows ?? 24 },
    refreshToken: 0,
    check: { phase: 'pick', pairs: 'ring', runToken: 0, cancelToken: 0, total: 0, done: 0, results: [], leftovers: [] },
    doctor: { phase: 'idle', runToken: 0 },
    quit: false,
  };
}

export const current = (s: UiState): Frame => s.stack[s.stack.length - 1] as Frame;

const matches = (filter: string, ...texts: string[]): boolean => !filter || texts.some((t) => t.toLowerCase().includes(filter.toLowerCase()));

/**
 * The row keys of a frame after its filter: network names, host names (grid), node names, pod
 * names, network names to check. The views draw these rows; the reducer clamps selections to them.
 */
export function rowsOf(s: UiState, f: Frame = current(s)): string[] {
  const d = s.data;
  if (!d) return [];
  const report = s.report ?? statusOf(d);
  switch (f.view) {
    case 'networks':
    case 'check':
      return networkRows(d, report).filter((r) => matches(f.filter, r.name, r.mode)).map((r) => r.name);
    case 'grid':
      return (gridOf(d, f.network ?? '', report)?.rows ?? []).filter((r) => matches(f.filter, r.host)).map((r) => r.host);
    case 'nodes':
      return nodeRows(d, report).filter((r) => matches(f.filter, r.name, ...r.nics.map((n) => n.name))).map((r) => r.name);
    case 'pods':
      return podRows(d).filter((r) => matches(f.filter, r.name, r.node)).map((r) => r.name);
    case 'doctor':
      return (s.doctor.report?.findings ?? []).map((x, i) => ({ x, i })).filter(({ x }) => matches(f.filter, x.check, x.severity, x.seen, ...Object.values(x.where))).map(({ i }) => String(i));
    case 'cell':
    case 'finding':
      return [];
  }
}

function columnsOf(s: UiState, f: Frame): number {
  if (f.view !== 'grid' || !s.data) return 0;
  return gridOf(s.data, f.network ?? '', s.report)?.columns.length ?? 0;
}

/** Keys of a view, for the help overlay (and the truth of what the reducer does). */
export function keysFor(view: ViewId, check?: CheckState): Array<[key: string, what: string]> {
  const common: Array<[string, string]> = [
    [':', 'command bar (:net :nodes :pods :doctor :check :q), Tab completes'],
    ['/', 'filter rows (Enter keeps, Esc clears)'],
    ['j k ↑ ↓', 'move; PgUp PgDn g G jump'],
    ['r', 'refresh from the cluster'],
    ['?', 'this help'],
    ['q Ctrl-C', 'quit'],
  ];
  const own: Record<ViewId, Array<[string, string]>> = {
    networks: [['Enter', 'hosts x NICs grid of the network']],
    grid: [['h l ← →', 'move between NICs'], ['Enter', 'host x NIC detail'], ['Esc', 'back to networks']],
    cell: [['Esc', 'back to the grid']],
    nodes: [['Esc', 'back']],
    pods: [['Enter', 'doctor pod on the pod'], ['Esc', 'back']],
    doctor: [['Enter', "the finding's cause and fix"], ['r', 're-run the doctor (agents probe their node again)'], ['Esc', 'back']],
    finding: [['Esc', 'back to the findings']],
    check:
      check?.phase === 'running'
        ? [['q Esc', 'cancel the check (its pods are deleted)'], ['Ctrl-C', 'cancel, clean up and quit']]
        : [['Enter', 'run the check on the selected network'], ['p', 'pairs: ring / all'], ['Esc', 'back']],
  };
  return [...own[view], ...common];
}

const clamp = (n: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, n));

function withFrame(s: UiState, f: Frame): UiState {
  return { ...s, stack: [...s.stack.slice(0, -1), f] };
}

/** Clamps the selection of every frame to its rows (after data changes or a filter edit). */
function settle(s: UiState): UiState {
  const stack = s.stack.map((f) => {
    const n = rowsOf(s, f).length;
    const c = columnsOf(s, f);
    return { ...f, sel: clamp(f.sel, 0, Math.max(0, n - 1)), col: clamp(f.col, 0, Math.max(0, c - 1)) };
  });
  return { ...s, stack };
}

function open(s: UiState, view: ViewId): UiState {
  // Switching views from the command bar replaces everything above the networks list (k9s-like).
  const base = s.stack[0] as Frame;
  const stack = view === 'networks' ? [base] : [base, frame(view)];
  const opened = settle({ ...s, stack, command: undefined, filtering: false, help: false });
  // The cluster-wide doctor runs when its view opens without a cluster-wide result to show.
  return view === 'doctor' && (s.doctor.phase === 'idle' || s.doctor.pod) ? runDoctor(opened) : opened;
}

/** Asks for a doctor run (a new token: the result of an earlier, different run is then ignored). */
function runDoctor(s: UiState, pod?: string): UiState {
  if (s.doctor.phase === 'running' && s.doctor.pod === pod) return s;
  return { ...s, doctor: { phase: 'running', runToken: s.doctor.runToken + 1, ...(pod ? { pod } : {}) } };
}

/** Completion of a partial command word: the single match, else the longest common prefix. */
export function complete(text: string): { text: string; candidates: string[] } {
  const t = text.trim().toLowerCase();
  const candidates = COMMANDS.map((c) => c.words[0] as string).filter((w) => w.startsWith(t));
  if (candidates.length === 1) return { text: candidates[0] as string, candidates };
  let p = candidates[0] ?? t;
  for (const c of candidates) while (!c.startsWith(p)) p = p.slice(0, -1);
  return { text: p.length > t.length ? p : text, candidates };
}

function runCommand(s: UiState, text: string): UiState {
  const t = text.trim().toLowerCase();
  if (!t) return { ...s, command: undefined };
  const exact = COMMANDS.find((c) => c.words.includes(t));
  const found = exact ?? (complete(t).candidates.length === 1 ? COMMANDS.find((c) => c.words[0] === complete(t).text) : undefined);
  if (!found) return { ...s, command: undefined, flash: `unknown command ":${t}" (try :net, :nodes, :pods, :doctor, :check)` };
  if (found.quit) return requestQuit({ ...s, command: undefined });
  return open(s, found.view as ViewId);
}

function requestQuit(s: UiState): UiState {
  if (s.check.phase === 'running') return { ...s, quit: true, check: { ...s.check, phase: 'cancelling', cancelToken: s.check.cancelToken + 1 } };
  if (s.check.phase === 'cancelling') return { ...s, quit: true };
  return { ...s, quit: true };
}

function onKey(s: UiState, k: Key): UiState {
  if (k.ctrl && k.text === 'c') return requestQuit(s);
  if (s.help) return { ...s, help: false };
  if (s.command) {
    if (k.name === 'escape') return { ...s, command: undefined };
    if (k.name === 'enter') return runCommand(s, s.command.text);
    if (k.name === 'tab') return { ...s, command: { text: complete(s.command.text).text } };
    if (k.name === 'backspace') return s.command.text ? { ...s, command: { text: s.command.text.slice(0, -1) } } : { ...s, command: undefined };
    if (k.text && !k.ctrl) return { ...s, command: { text: s.command.text + k.text } };
    return s;
  }
  const f = current(s);
  if (s.filtering) {
    if (k.name === 'escape') return settle({ ...withFrame(s, { ...f, filter: '', sel: 0 }), filtering: false });
    if (k.name === 'enter') return { ...s, filtering: false };
    if (k.name === 'backspace') return settle(withFrame(s, { ...f, filter: f.filter.slice(0, -1), sel: 0 }));
    if (k.text && !k.ctrl) return settle(withFrame(s, { ...f, filter: f.filter + k.text, sel: 0 }));
    return s;
  }
  const s1 = { ...s, flash: undefined };
  // A running check owns q and Esc: they cancel it (and its pods are deleted), never leave silently.
  if (f.view === 'check' && s.check.phase === 'running' && (k.text === 'q' || k.name === 'escape')) {
    return { ...s1, check: { ...s.check, phase: 'cancelling', cancelToken: s.check.cancelToken + 1 } };
  }
  if (k.text === 'q') return requestQuit(s1);
  if (k.text === ':') return { ...s1, command: { text: '' } };
  if (k.text === '/') return f.view === 'cell' ? s1 : { ...s1, filtering: true };
  if (k.text === '?') return { ...s1, help: true };
  if (k.text === 'r' && f.view === 'doctor') return runDoctor({ ...s1, refreshToken: s.refreshToken + 1 }, s.doctor.pod);
  if (k.text === 'r') return { ...s1, refreshToken: s.refreshToken + 1 };
  if (k.name === 'escape') {
    if (f.filter) return settle(withFrame(s1, { ...f, filter: '', sel: 0 }));
    return s.stack.length > 1 ? { ...s1, stack: s.stack.slice(0, -1) } : s1;
  }
  const n = rowsOf(s, f).length;
  const page = Math.max(1, s.size.rows - CHROME_ROWS - 1);
  const move = (sel: number): UiState => withFrame(s1, { ...f, sel: clamp(sel, 0, Math.max(0, n - 1)) });
  if (k.name === 'down' || k.text === 'j') return move(f.sel + 1);
  if (k.name === 'up' || k.text === 'k') return move(f.sel - 1);
  if (k.name === 'pagedown' || (k.ctrl && k.text === 'f')) return move(f.sel + page);
  if (k.name === 'pageup' || (k.ctrl && k.text === 'b')) return move(f.sel - page);
  if (k.name === 'home' || k.text === 'g') return move(0);
  if (k.name === 'end' || k.text === 'G') return move(n - 1);
  if (f.view === 'grid' && (k.name === 'right' || k.text === 'l')) return withFrame(s1, { ...f, col: clamp(f.col + 1, 0, Math.max(0, columnsOf(s, f) - 1)) });
  if (f.view === 'grid' && (k.name === 'left' || k.text === 'h')) return withFrame(s1, { ...f, col: clamp(f.col - 1, 0, Math.max(0, columnsOf(s, f) - 1)) });
  if (f.view === 'check' && k.text === 'p' && s.check.phase !== 'running' && s.check.phase !== 'cancelling') {
    return { ...s1, check: { ...s.check, pairs: s.check.pairs === 'ring' ? 'all' : 'ring' } };
  }
  if (k.name === 'enter') {
    const row = rowsOf(s, f)[f.sel];
    if (f.view === 'networks' && row) return settle({ ...s1, stack: [...s.stack, frame('grid', { network: row })] });
    if (f.view === 'grid' && row && s.data) {
      const grid = gridOf(s.data, f.network ?? '', s.report);
      const cell = grid?.rows.find((r) => r.host === row)?.cells[f.col];
      if (cell && cell.health !== 'none') return { ...s1, stack: [...s.stack, frame('cell', { network: f.network, host: row, interfaceIndex: cell.interfaceIndex })] };
      return { ...s1, flash: `${row} has no block on that NIC network` };
    }
    if (f.view === 'pods' && row) return runDoctor({ ...s1, stack: [...s.stack, frame('doctor')] }, row);
    if (f.view === 'doctor' && row) return { ...s1, stack: [...s.stack, frame('finding', { finding: Number(row) })] };
    if (f.view === 'check' && row && s.check.phase !== 'running' && s.check.phase !== 'cancelling') {
      return {
        ...s1,
        check: { ...s.check, phase: 'running', network: row, runToken: s.check.runToken + 1, runId: undefined, total: 0, done: 0, results: [], cleanup: undefined, report: undefined, leftovers: [], error: undefined },
      };
    }
  }
  return s1;
}

function onCheck(s: UiState, e: CheckProgress): UiState {
  const c = s.check;
  switch (e.kind) {
    case 'start':
      return { ...s, check: { ...c, runId: e.runId, total: e.tests } };
    case 'result':
      return { ...s, check: { ...c, done: e.done, total: e.total, results: [...c.results, e.result] } };
    case 'cleanup':
      return { ...s, check: { ...c, cleanup: `deleting ${e.pods} check pod${e.pods === 1 ? '' : 's'}` } };
    case 'finished':
      return { ...s, check: { ...c, phase: 'done', report: e.report, leftovers: e.leftovers, cleanup: undefined } };
    case 'failed':
      return { ...s, check: { ...c, phase: 'failed', error: e.message, cleanup: undefined } };
  }
}

export function reduce(s: UiState, a: Action): UiState {
  switch (a.type) {
    case 'key':
      return onKey(s, a.key);
    case 'data':
      return settle({ ...s, data: a.data, report: statusOf(a.data), updatedAt: a.at, error: undefined });
    case 'error':
      return { ...s, error: a.message };
    case 'resize':
      return { ...s, size: { columns: a.columns, rows: a.rows } };
    case 'check':
      return onCheck(s, a.event);
    case 'doctor':
      if (a.token !== s.doctor.runToken) return s;
      return settle(
        a.event.kind === 'finished'
          ? { ...s, doctor: { ...s.doctor, phase: 'done', report: a.event.report, error: undefined } }
          : { ...s, doctor: { ...s.doctor, phase: 'failed', error: a.event.message } },
      );
  }
}

/** The finding a `finding` frame shows. */
export const findingOf = (s: UiState, f: Frame = current(s)): Finding | undefined => (f.finding === undefined ? undefined : s.doctor.report?.findings[f.finding]);

/** The app may exit: quit asked and no check still cleaning up. */
export const readyToExit = (s: UiState): boolean => s.quit && s.check.phase !== 'running' && s.check.phase !== 'cancelling';

/** First row of a scrolled list of `total` rows showing `height`, keeping `sel` in view (centred). */
export function scrollStart(sel: number, total: number, height: number): number {
  if (total <= height) return 0;
  return clamp(sel - Math.floor(height / 2), 0, total - height);
}

/**
 * Keys of a chunk of typed text. Terminals deliver fast typing, pastes and `tmux send-keys` as one
 * chunk ("jl\r"), which Ink hands over as one input string: split it into one key per character.
 */
export function splitTyped(text: string): Key[] {
  return [...text].map((ch): Key => {
    if (ch === '\r' || ch === '\n') return { name: 'enter' };
    if (ch === '\t') return { name: 'tab' };
    if (ch === '\u007f' || ch === '\b') return { name: 'backspace' };
    if (ch === '\u001b') return { name: 'escape' };
    const code = ch.charCodeAt(0);
    if (code > 0 && code < 27) return { text: String.fromCharCode(code + 96), ctrl: true };
    return { text: ch };
  });
}
