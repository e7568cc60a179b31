// Entry of `kubectl multinic ui`: draws the App full-screen on the alternate screen buffer and puts
// the terminal back as it was on exit (also after a crash). The command imports this module
// lazily, so Ink and React load only for `ui`.
import { render } from 'ink';
import type { KubeApi } from '../kube/api.js';
import { initialState } from '../lib/ui/state.js';
import { App } from './app.js';
import type { ClusterFeed } from './feed.js';
import type { CheckDefaults } from './hooks.js';
import { theme } from './theme.js';

export interface UiOptions {
  kube: KubeApi;
  /** Started by the caller before this module loads (its lists overlap Ink's import). */
  feed: ClusterFeed;
  context: string;
  color: boolean;
  network?: string;
  check: CheckDefaults;
  cliVersion: string;
}

const ENTER = '\u001b[?1049h\u001b[H';
const LEAVE = '\u001b[?1049l';

export async function renderUi(o: UiOptions): Promise<void> {
  const out = process.stdout;
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    out.write(LEAVE);
  };
  out.write(ENTER);
  process.once('exit', restore);
  try {
    const ink = render(
      <App initial={initialState({ columns: out.columns, rows: out.rows, network: o.network })} theme={theme(o.color)} context={o.context} server={o.kube.server} kube={o.kube} feed={o.feed} check={o.check} cliVersion={o.cliVersion} />,
      { exitOnCtrlC: false, patchConsole: true },
    );
    await ink.waitUntilExit();
    ink.cleanup();
  } finally {
    await o.feed.stop();
    restore();
    process.off('exit', restore);
  }
}
