// A real terminal for the TUI's tests: one tmux session, keys in with `send-keys`, the screen back
// with `capture-pane`.
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { eventually } from './eventually.js';

/** Whether tmux runs on this machine (tests that need it skip, with the reason, when it does not). */
export const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });

export interface TmuxSession {
  readonly name: string;
  /** The pane's text now. */
  screen(): string;
  /** Sends keys one call each: tmux delivers a call's keys as one chunk, as a fast typist would. */
  send(...keys: string[]): void;
  /** Waits for the screen to match (polling; the budget is a bound, not an assertion on speed). */
  waitFor(re: RegExp, budgetMs?: number): Promise<string>;
  /** Whether the session still exists (it ends when its pane's command exits). */
  alive(): boolean;
  kill(): void;
}

export function tmuxSession(name: string): TmuxSession {
  const screen = (): string => tmux('capture-pane', '-p', '-t', name);
  return {
    name,
    screen,
    send: (...keys) => void tmux('send-keys', '-t', name, ...keys),
    waitFor: (re, budgetMs = 20_000) =>
      eventually(() => {
        const s = screen();
        expect(s).toMatch(re);
        return s;
      }, budgetMs, 100),
    alive: () => {
      try {
        execFileSync('tmux', ['has-session', '-t', name], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
    kill: () => {
      try {
        execFileSync('tmux', ['kill-session', '-t', name], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    },
  };
}
