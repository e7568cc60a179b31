// Pods attached to our networks (Multus network-status): their interfaces, addresses and the host
// NIC each address's pool sits on.
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { podRows } from '../../lib/ui/model.js';
import { type UiState, current, rowsOf, scrollStart } from '../../lib/ui/state.js';
import type { Theme } from '../theme.js';
import { Filler, Line, type Segment, fit } from './text.js';

export function PodsView({ state, theme, height, width }: { state: UiState; theme: Theme; height: number; width: number }): ReactNode {
  const f = current(state);
  const names = rowsOf(state, f);
  const all = state.data ? podRows(state.data) : [];
  const pods = names.map((n) => all.find((r) => r.name === n)).filter((r) => r !== undefined);
  const w = { pod: Math.max(10, Math.min(30, ...pods.map((p) => p.name.length + 2))), node: 10, phase: 9, net: 18, ifc: 8, addr: 18 };
  const nicW = Math.max(8, width - w.pod - w.node - w.phase - w.net - w.ifc - w.addr);
  const lines: Array<{ pod: number; segs: Segment[] }> = [];
  pods.forEach((p, i) => {
    const sel = i === f.sel;
    p.interfaces.forEach((x, j) => {
      lines.push({
        pod: i,
        segs: [
          { text: fit(j === 0 ? `${sel ? '›' : ' '}${p.name}` : '', w.pod), inverse: sel && j === 0 },
          { text: fit(j === 0 ? p.node : '', w.node) },
          { text: fit(j === 0 ? p.phase : '', w.phase), health: j === 0 ? (p.phase === 'Running' ? 'ok' : p.phase === 'Failed' ? 'fail' : 'warn') : undefined },
          { text: fit(x.network, w.net) },
          { text: fit(x.interface, w.ifc) },
          { text: fit(x.addresses.join(',') || '-', w.addr) },
          { text: fit(x.hostNic || '-', nicW) },
        ],
      });
    });
  });
  const body = height - 1;
  const start = scrollStart(Math.max(0, lines.findIndex((l) => l.pod === f.sel)), lines.length, body);
  const shown = lines.slice(start, start + body);
  const header = `${fit(' POD', w.pod)}${fit('NODE', w.node)}${fit('PHASE', w.phase)}${fit('NETWORK', w.net)}${fit('IFACE', w.ifc)}${fit('ADDRESS', w.addr)}${fit('HOST/NIC', nicW)}`;
  return (
    <Box flexDirection="column">
      <Line theme={theme} segments={[{ text: header, bold: true }]} />
      {pods.length === 0 ? <Line theme={theme} segments={[{ text: state.data ? '  no pod is attached to a MultiNicNetwork' : '  loading…', dim: true }]} /> : null}
      {shown.map((l, i) => (
        <Line key={i} theme={theme} segments={l.segs} />
      ))}
      <Filler count={body - shown.length - (pods.length === 0 ? 1 : 0)} />
    </Box>
  );
}
