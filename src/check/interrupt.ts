// Ctrl-C during a check: the first SIGINT (or SIGTERM) aborts the run, which then deletes its pods
// and reports what finished; a second one quits at once, naming the label to clean up by hand.
import { RUN_LABEL } from '../lib/check/pods.js';

export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM', fn: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM', fn: () => void): unknown;
  exit(code: number): never;
}

/** Exit code after an interrupted run (128 + SIGINT), as shells expect. */
export const INTERRUPTED_EXIT = 130;

/** Installs the handlers; returns their remover. `runId()` names the run for the hint. */
export function onInterrupt(ctl: AbortController, note: (text: string) => void, runId: () => string | undefined, proc: SignalSource = process): () => void {
  let count = 0;
  const handler = (): void => {
    count++;
    if (count === 1) {
      note('interrupted: stopping and deleting the check pods (press Ctrl-C again to quit now and leave them)');
      ctl.abort();
      return;
    }
    const id = runId();
    note(`quit without cleanup; delete the pods with: kubectl delete pods -A -l ${RUN_LABEL}${id ? `=${id}` : ''}`);
    proc.exit(INTERRUPTED_EXIT);
  };
  proc.on('SIGINT', handler);
  proc.on('SIGTERM', handler);
  return () => {
    proc.off('SIGINT', handler);
    proc.off('SIGTERM', handler);
  };
}
