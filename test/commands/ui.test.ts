// `kubectl multinic ui` off a terminal: refused with exit 2 and where to go instead, before it
// touches the cluster (no kubeconfig is needed to be told).
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('ui off a TTY', () => {
  it('exits 2 with a hint to use status, doctor or check', () => {
    const r = runCli(['ui', '--kubeconfig', '/nonexistent/kubeconfig'], { input: '' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'error: kubectl multinic ui needs an interactive terminal (stdin and stdout must be a TTY)\nhint: for scripts and pipes use kubectl multinic status (-o json), doctor or check\n',
    );
  });

  it('is listed with its flags in --help', () => {
    const r = runCli(['ui', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--network=<value>');
    expect(r.stdout).toContain('--check-duration=<value>');
  });
});
