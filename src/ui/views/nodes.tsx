// Nodes: each host's NICs (PCI vendor:product, NUMA, speed, MTU, link), its agent's version and health;
// once a DRA ResourceClaim holds any NIC, a CLAIMED BY column names its pods and claim (as status).
import { Box } from 'ink';
import type { ReactNode } from 'react';
import { nodeRows } from '../../lib/ui/model.js';
import { type UiState, current, rowsOf, scrollStart } from '../../lib/ui/state.js';
import type { Theme } from '../theme.js';
import { Filler, Line, type Segment, fit } from './text.js';

export function NodesView({ state, theme, height, width }: { state: UiState; theme: Theme; height: number; width: number }): ReactNode {
  const f = current(state);
  const names = rowsOf(state, f);
  const all = state.data ? nodeRows(state.data, state.report) : [];
  const nodes = names.map((n) => all.find((r) => r.name === n)).filter((r) => r !== undefined);
  const w = { node: Math.max(8, Math.min(20, ...nodes.map((n) => n.name.length + 4))), nic: 9, vp: 15, numa: 5, speed: 7, mtu: 6, link: 13 };
  const claimed = nodes.some((n) => n.nics.some((x) => x.claimedBy));
  const rest = width - w.node - w.nic - w.vp - w.numa - w.speed - w.mtu - w.link;
  const claimW = claimed ? Math.max(12, Math.min(64, rest - 28, Math.max(...nodes.flatMap((n) => n.nics.map((x) => (x.claimedBy?.length ?? 0) + 1))))) : 0;
  const agentW = Math.max(8, rest - claimW);
  const lines: Array<{ node: number; segs: Segment[] }> = [];
  nodes.forEach((n, i) => {
    const sel = i === f.sel;
    const nics = n.nics.length ? n.nics : [undefined];
    nics.forEach((x, j) => {
      lines.push({
        node: i,
        segs: [
          { text: fit(j === 0 ? `${sel ? '›' : ' '}${theme.mark[n.health]}${n.name}` : '', w.node), health: j === 0 ? n.health : undefined, inverse: sel && j === 0 },
          { text: fit(x?.name ?? '-', w.nic) },
          { text: fit(x?.vendorProduct ?? '-', w.vp) },
          { text: fit(x?.numa ?? '-', w.numa) },
          { text: fit(x?.speed ?? '-', w.speed) },
          { text: fit(x?.mtu ?? '-', w.mtu) },
          { text: fit(x ? `${theme.mark[x.health]}${x.link}` : '-', w.link), health: x?.health },
          ...(claimed ? [{ text: fit(x?.claimedBy ?? '-', claimW) }] : []),
          { text: fit(j === 0 ? `${n.ready ? 'Ready' : 'NotReady'} agent ${n.agent} ${n.agentVersion}` : '', agentW), health: j === 0 && (!n.ready || n.agent !== 'published') ? 'fail' : undefined },
        ],
      });
    });
  });
  const body = height - 1;
  const firstOfSel = Math.max(0, lines.findIndex((l) => l.node === f.sel));
  const start = scrollStart(firstOfSel, lines.length, body);
  const shown = lines.slice(start, start + body);
  const header = `${fit(' NODE', w.node)}${fit('NIC', w.nic)}${fit('VENDOR:PROD', w.vp)}${fit('NUMA', w.numa)}${fit('SPEED', w.speed)}${fit('MTU', w.mtu)}${fit('LINK', w.link)}${claimed ? fit('CLAIMED BY', claimW) : ''}${fit('AGENT', agentW)}`;
  return (
    <Box flexDirection="column">
      <Line theme={theme} segments={[{ text: header, bold: true }]} />
      {nodes.length === 0 ? <Line theme={theme} segments={[{ text: state.data ? '  no nodes' : '  loading…', dim: true }]} /> : null}
      {shown.map((l, i) => (
        <Line key={i} theme={theme} segments={l.segs} />
      ))}
      <Filler count={body - shown.length - (nodes.length === 0 ? 1 : 0)} />
    </Box>
  );
}
