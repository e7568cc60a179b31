// kubectl's help habits: -h everywhere, `help COMMAND`, "did you mean" with exit 2 for a mistyped
// command, a `lab` topic with its own description, and no oclif colon ids in what users read.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('help', () => {
  it.each([['plan'], ['status'], ['lab', 'up'], ['version']])('-h prints the same help as --help: %s', (...cmd) => {
    const short = runCli([...cmd, '-h']);
    const long = runCli([...cmd, '--help']);
    expect(short.code).toBe(0);
    expect(short.stdout).toContain('USAGE');
    expect(short.stdout).toBe(long.stdout);
  });

  it('help COMMAND is COMMAND --help, also for a topic command', () => {
    const r = runCli(['help', 'lab', 'up']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(runCli(['lab', 'up', '--help']).stdout);
  });

  it('a mistyped command exits 2 and suggests the right one, in kubectl spelling', () => {
    const r = runCli(['statsu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "statsu" for "kubectl multinic"');
    expect(r.stderr).toMatch(/Did you mean this\?\n\tstatus/);
    const lab = runCli(['lab', 'upp']);
    expect(lab.code).toBe(2);
    expect(lab.stderr).toContain('lab up');
    expect(lab.stderr).not.toMatch(/lab:/);
    const h = runCli(['help', 'instal']);
    expect(h.code).toBe(2);
    expect(h.stderr).toContain('did you mean "install"?');
  });

  it('the lab topic has its own description, not its first command\'s', () => {
    const r = runCli(['--help']);
    expect(r.stdout).toMatch(/lab\s+A simulated multi-NIC cluster on this machine/);
    expect(r.stdout).not.toMatch(/lab\s+Remove a local lab/);
  });
});
