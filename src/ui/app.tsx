// The TUI app: one reducer (src/lib/ui/state.ts), the hooks that feed it and act on its requests,
// and the Screen that draws it. Without `kube` it shows `initial` only (tests drive it by keys).
import { useApp } from 'ink';
import { type ReactNode, useEffect, useReducer } from 'react';
import type { KubeApi } from '../kube/api.js';
import { type UiState, readyToExit, reduce } from '../lib/ui/state.js';
import { type CheckDefaults, useCheckRun, useClusterData, useDoctorRun, useKeys, useTerminalSize } from './hooks.js';
import { Screen } from './screen.js';
import type { ClusterFeed } from './feed.js';
import type { Theme } from './theme.js';

export interface AppProps {
  initial: UiState;
  theme: Theme;
  context: string;
  server: string;
  kube?: KubeApi;
  /** The cluster's data; absent in tests that give `initial` data. */
  feed?: ClusterFeed;
  check?: CheckDefaults;
  /** This CLI's version (the doctor compares agents with it). */
  cliVersion?: string;
  /** Follow the terminal's size (off in tests that fix the size in `initial`). */
  trackSize?: boolean;
}

export function App({ initial, theme, context, server, kube, feed, check, cliVersion = '', trackSize = true }: AppProps): ReactNode {
  const [state, dispatch] = useReducer(reduce, initial);
  const { exit } = useApp();
  useKeys(dispatch);
  useClusterData(feed, dispatch, state.refreshToken);
  useCheckRun(kube, state.check, dispatch, check ?? { namespace: 'default', image: '', duration: 5 });
  useDoctorRun(kube, state.doctor, dispatch, cliVersion);
  useTerminalSize(dispatch, trackSize);
  useEffect(() => {
    if (readyToExit(state)) exit();
  }, [state, exit]);
  return <Screen state={state} theme={theme} context={context} server={server} />;
}
