// The TUI reducer, table-driven: a key sequence from a fixed snapshot → the state it leads to.
// No Ink: keys are the reducer's own Key values.
import { describe, expect, it } from 'vitest';
import { type Key, type UiState, complete, current, initialState, readyToExit, reduce, rowsOf, scrollStart, splitTyped, findingOf } from '../../../src/lib/ui/state.js';
import { runDoctor } from '../../../src/lib/doctor/report.js';
import { doctorSnapshotOf, emptyCluster, labData, withDiagnostics, withPod } from '../../ui/fixture.js';

/** "j", "<enter>", ":nodes<enter>": a compact key script. */
function keys(script: string): Key[] {
  const out: Key[] = [];
  const re = /<(\w+)>|<c-(\w)>|(.)/gs;
  for (const m of script.matchAll(re)) {
    if (m[1]) out.push({ name: m[1] as Key['name'] });
    else if (m[2]) out.push({ text: m[2], ctrl: true });
    else if (m[3]) out.push({ text: m[3] });
  }
  return out;
}

const start = (data = labData({ hosts: 3, nics: 2 }), size = { columns: 100, rows: 30 }): UiState =>
  reduce(initialState(size), { type: 'data', data, at: Date.UTC(2026, 11, 2, 10, 0, 0) });

const press = (s: UiState, script: string): UiState => keys(script).reduce((acc, k) => reduce(acc, { type: 'key', key: k }), s);

const where = (s: UiState): string => {
  const f = current(s);
  return [f.view, f.network, f.host, f.interfaceIndex, `sel=${f.sel}`, f.view === 'grid' ? `col=${f.col}` : undefined, f.filter ? `filter=${f.filter}` : undefined].filter((x) => x !== undefined).join(' ');
};

describe('navigation', () => {
  const rows: Array<[name: string, script: string, expected: string]> = [
    ['starts on the networks list', '', 'networks sel=0'],
    ['Enter drills into the grid', '<enter>', 'grid multi-nic-sample sel=0 col=0'],
    ['j/k and arrows move, clamped to the hosts', '<enter>jjjj', 'grid multi-nic-sample sel=2 col=0'],
    ['k above the first stays', '<enter>kk<up>', 'grid multi-nic-sample sel=0 col=0'],
    ['l/h and arrows move between NICs, clamped', '<enter>j<right>lll', 'grid multi-nic-sample sel=1 col=1'],
    ['Enter on a cell opens host x NIC', '<enter>jl<enter>', 'cell multi-nic-sample host2 1 sel=0'],
    ['Esc goes back one level each', '<enter>jl<enter><escape>', 'grid multi-nic-sample sel=1 col=1'],
    ['Esc twice back to networks', '<enter>jl<enter><escape><escape>', 'networks sel=0'],
    ['G / g jump to the last / first row', '<enter>G', 'grid multi-nic-sample sel=2 col=0'],
    [':nodes opens nodes', ':nodes<enter>', 'nodes sel=0'],
    [':no is an alias', ':no<enter>', 'nodes sel=0'],
    [':po<tab> completes to pods', ':po<tab><enter>', 'pods sel=0'],
    [':net from deep in the grid goes back to the list', '<enter>j<enter>:net<enter>', 'networks sel=0'],
    [':check opens check', ':ch<tab><enter>', 'check sel=0'],
    ['/ filters the grid by host', '<enter>/host3<enter>', 'grid multi-nic-sample sel=0 col=0 filter=host3'],
    ['Esc clears a kept filter first', '<enter>/host3<enter><escape>', 'grid multi-nic-sample sel=0 col=0'],
    ['Esc while typing a filter drops it', '<enter>/ho<escape>', 'grid multi-nic-sample sel=0 col=0'],
    ['a filter with no match leaves no row selected but no crash', '/zzz<enter><enter>', 'networks sel=0 filter=zzz'],
  ];
  it.each(rows)('%s', (_n, script, expected) => {
    expect(where(press(start(), script))).toBe(expected);
  });

  it('filtered rows are what the views draw', () => {
    const s = press(start(), '<enter>/2<enter>');
    expect(rowsOf(s)).toEqual(['host2']);
  });

  it('the command bar keeps what is typed, backspace edits, an unknown command flashes', () => {
    expect(press(start(), ':nod').command).toEqual({ text: 'nod' });
    expect(press(start(), ':nodx<backspace>').command).toEqual({ text: 'nod' });
    const s = press(start(), ':bogus<enter>');
    expect([s.command, s.flash, where(s)]).toEqual([undefined, 'unknown command ":bogus" (try :net, :nodes, :pods, :doctor, :check)', 'networks sel=0']);
    expect(press(s, 'j').flash).toBeUndefined();
  });

  it('completion: a unique prefix completes, an ambiguous one lists candidates', () => {
    expect(complete('no')).toEqual({ text: 'nodes', candidates: ['nodes'] });
    expect(complete('n')).toEqual({ text: 'n', candidates: ['net', 'nodes'] });
    expect(complete('x')).toEqual({ text: 'x', candidates: [] });
  });

  it('? opens help and any key closes it without acting', () => {
    const s = press(start(), '?');
    expect(s.help).toBe(true);
    const t = press(s, 'j');
    expect([t.help, where(t)]).toEqual([false, 'networks sel=0']);
  });

  it('r asks for a refresh; q and Ctrl-C quit', () => {
    expect(press(start(), 'rr').refreshToken).toBe(2);
    expect(readyToExit(press(start(), 'q'))).toBe(true);
    expect(readyToExit(press(start(), '<c-c>'))).toBe(true);
    expect(readyToExit(press(start(), ':q<enter>'))).toBe(true);
    // q typed into the filter or command bar is text, not quit
    expect(readyToExit(press(start(), '/q'))).toBe(false);
    expect(readyToExit(press(start(), ':q'))).toBe(false);
  });

  it('page down moves by a screen in a 64-host grid; the window keeps the selection in view', () => {
    const s = press(start(labData({ hosts: 64, nics: 4 }), { columns: 80, rows: 24 }), '<enter><pagedown>');
    expect(current(s).sel).toBe(18);
    expect(current(press(s, 'G')).sel).toBe(63);
    expect(scrollStart(63, 64, 19)).toBe(45);
    expect(scrollStart(0, 64, 19)).toBe(0);
    expect(scrollStart(30, 64, 19)).toBe(21);
    expect(scrollStart(2, 3, 19)).toBe(0);
  });

  it('a data update that removes rows clamps the selection', () => {
    const s = press(start(), '<enter>G');
    const t = reduce(s, { type: 'data', data: labData({ hosts: 2, nics: 2 }), at: 1 });
    expect(where(t)).toBe('grid multi-nic-sample sel=1 col=0');
    const e = reduce(s, { type: 'data', data: emptyCluster(), at: 2 });
    expect(where(e)).toBe('grid multi-nic-sample sel=0 col=0');
  });

  it('pods and nodes rows come from the snapshot', () => {
    const s = start(withPod(labData({ hosts: 3, nics: 2 }), 'trainer-0', 'host2'));
    expect(rowsOf(press(s, ':pods<enter>'))).toEqual(['default/trainer-0']);
    expect(rowsOf(press(s, ':nodes<enter>'))).toEqual(['host1', 'host2', 'host3']);
  });
});

describe('check view', () => {
  it('p toggles pairs; Enter asks for a run of the selected network', () => {
    const s = press(start(), ':check<enter>p');
    expect(s.check.pairs).toBe('all');
    const r = press(s, '<enter>');
    expect([r.check.phase, r.check.network, r.check.pairs, r.check.runToken]).toEqual(['running', 'multi-nic-sample', 'all', 1]);
    // Enter while running does not start a second run
    expect(press(r, '<enter>').check.runToken).toBe(1);
  });

  it('q while a check runs cancels it (not quit); Ctrl-C cancels and quits once it is cleaned up', () => {
    const r = press(start(), ':check<enter><enter>');
    const q = press(r, 'q');
    expect([q.check.phase, q.check.cancelToken, q.quit]).toEqual(['cancelling', 1, false]);
    const c = press(r, '<c-c>');
    expect([c.check.phase, c.check.cancelToken, c.quit, readyToExit(c)]).toEqual(['cancelling', 1, true, false]);
    const done = reduce(c, { type: 'check', event: { kind: 'failed', message: 'check interrupted' } });
    expect(readyToExit(done)).toBe(true);
  });

  it('progress events accumulate; the report ends the run', () => {
    let s = press(start(), ':check<enter><enter>');
    s = reduce(s, { type: 'check', event: { kind: 'start', runId: 'r1', tests: 6 } });
    s = reduce(s, { type: 'check', event: { kind: 'result', done: 1, total: 6, result: { id: 'multi-nic-sample/host1->host2/nic0', status: 'pass', summary: '9.1 Gbit/s' } } });
    expect([s.check.runId, s.check.done, s.check.total, s.check.results.length]).toEqual(['r1', 1, 6, 1]);
    s = reduce(s, { type: 'check', event: { kind: 'cleanup', pods: 4 } });
    expect(s.check.cleanup).toBe('deleting 4 check pods');
  });
});

describe('typed chunks', () => {
  it('a chunk of fast typing splits into one key per character, control characters named', () => {
    expect(splitTyped('jl\r')).toEqual([{ text: 'j' }, { text: 'l' }, { name: 'enter' }]);
    expect(splitTyped(':po\t\u007f\u001b\u0003')).toEqual([{ text: ':' }, { text: 'p' }, { text: 'o' }, { name: 'tab' }, { name: 'backspace' }, { name: 'escape' }, { text: 'c', ctrl: true }]);
  });

  it('the chunk drives the reducer as the keys one by one would', () => {
    const s = splitTyped('j\r').reduce((acc, k) => reduce(acc, { type: 'key', key: k }), start());
    expect(where(s)).toBe('grid multi-nic-sample sel=0 col=0');
  });
});

describe('doctor view', () => {
  const broken = () => withDiagnostics(labData({ hosts: 3, nics: 2 }), 'host2', { down: ['eth2'] });
  const report = () => runDoctor(doctorSnapshotOf(broken()));

  it(':doctor opens the view and asks for a run; its report becomes rows, severity first', () => {
    const s = press(start(broken()), ':doctor<enter>');
    expect([where(s), s.doctor.phase, s.doctor.runToken, s.doctor.pod]).toEqual(['doctor sel=0', 'running', 1, undefined]);
    const r = report();
    const done = reduce(s, { type: 'doctor', token: 1, event: { kind: 'finished', report: r } });
    expect(done.doctor.phase).toBe('done');
    expect(rowsOf(done)).toEqual(r.findings.map((_, i) => String(i)));
    expect(r.findings[0]?.severity).toBe('fail');
    // Opened again later: the result is shown, not re-run; r re-runs it.
    const again = press(done, ':net<enter>:dr<enter>');
    expect(again.doctor.runToken).toBe(1);
    expect(press(again, 'r').doctor).toMatchObject({ phase: 'running', runToken: 2 });
  });

  it('Enter opens a finding, Esc goes back; the filter narrows findings', () => {
    const r = report();
    const s = reduce(press(start(broken()), ':doctor<enter>'), { type: 'doctor', token: 1, event: { kind: 'finished', report: r } });
    const f = press(s, '<enter>');
    expect([where(f), findingOf(f)]).toEqual(['finding sel=0', r.findings[0]]);
    expect(where(press(f, '<escape>'))).toBe('doctor sel=0');
    const only = press(s, '/eth2<enter>');
    expect(rowsOf(only).map((i) => r.findings[Number(i)]?.where.nic)).toEqual(rowsOf(only).map(() => 'eth2'));
  });

  it('Enter on a pod runs doctor pod on it', () => {
    const s = press(start(withPod(labData({ hosts: 3, nics: 2 }), 'trainer-0', 'host2')), ':pods<enter><enter>');
    expect([where(s), s.doctor.phase, s.doctor.pod, s.doctor.runToken]).toEqual(['doctor sel=0', 'running', 'default/trainer-0', 1]);
    // :doctor afterwards is the cluster-wide doctor again
    const cluster = press(s, ':doctor<enter>');
    expect([cluster.doctor.pod, cluster.doctor.runToken, cluster.doctor.phase]).toEqual([undefined, 2, 'running']);
    // The pod run's late answer is dropped: it is not what the view asks for any more.
    expect(reduce(cluster, { type: 'doctor', token: 1, event: { kind: 'failed', message: 'late' } }).doctor.phase).toBe('running');
  });

  it('a failed run says why', () => {
    const s = reduce(press(start(), ':doctor<enter>'), { type: 'doctor', token: 1, event: { kind: 'failed', message: 'cannot reach the API' } });
    expect([s.doctor.phase, s.doctor.error]).toEqual(['failed', 'cannot reach the API']);
  });
});
