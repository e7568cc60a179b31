// Progress of a check run for humans, on stderr. Not a TTY: plain lines, one per event worth
// knowing. A TTY: the same lines plus one status line at the bottom, redrawn in place.
import type { CheckEvent } from './run.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class Progress {
  private status = '';
  private running = new Set<string>();
  private done = 0;
  private total = 0;

  constructor(private readonly out: ProgressStream) {}

  private line(text: string): void {
    if (this.out.isTTY && this.status) this.out.write('\r\u001b[K');
    this.out.write(`${text}\n`);
    if (this.out.isTTY && this.status) this.out.write(this.status);
  }

  private redraw(): void {
    if (!this.out.isTTY) return;
    this.status = this.running.size ? `  ${this.done}/${this.total} done; running ${[...this.running].join(', ')}` : '';
    this.out.write(`\r\u001b[K${this.status}`);
  }

  readonly onEvent = (e: CheckEvent): void => {
    switch (e.type) {
      case 'start':
        this.total = e.tests;
        this.line(`check ${e.runId}: ${e.tests} test${e.tests === 1 ? '' : 's'} over ${e.groups} host pair${e.groups === 1 ? '' : 's'}`);
        break;
      case 'group':
        this.running.add(e.group.id);
        if (!this.out.isTTY) this.line(`starting ${e.group.id}: ${e.group.tests.length} NIC${e.group.tests.length === 1 ? '' : 's'}`);
        break;
      case 'servers-ready':
        if (!this.out.isTTY) this.line(`${e.group.id}: ${e.ready}/${e.group.tests.length} servers ready, clients sending`);
        break;
      case 'retry':
        this.line(`${e.test.id}: attempt ${e.attempt} answered "${e.reason}", retrying`);
        break;
      case 'result': {
        this.done = e.done;
        const r = e.result;
        const tag = r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'SKIP';
        this.line(`[${e.done}/${e.total}] ${tag} ${r.id}: ${r.summary}`);
        break;
      }
      case 'group-done':
        this.running.delete(e.group.id);
        break;
      case 'cleanup':
        this.running.clear();
        if (e.pods) this.line(`deleting ${e.pods} check pod${e.pods === 1 ? '' : 's'}`);
        break;
      case 'cleanup-done':
        if (e.leftovers.length) this.line(`pods still present: ${e.leftovers.join(', ')}`);
        break;
    }
    this.redraw();
  };

  /** Clears the status line (call before writing the final output). */
  finish(): void {
    if (this.out.isTTY && this.status) this.out.write('\r\u001b[K');
    this.status = '';
  }
}
