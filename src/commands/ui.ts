import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { useColor } from '../cli/table.js';
import { requireInstalled } from '../cluster/snapshot.js';
import { UserError } from '../lib/errors.js';
import { defaultImage } from '../lib/install/render.js';
import { R } from '../lib/k8s/resources.js';
import { contextName } from '../kube/kubeconfig.js';

export default class UiCommand extends BaseCommand<typeof UiCommand> {
  static override summary = 'Interactive terminal UI: networks, hosts x NICs grid, nodes, pods, doctor and checks, kept live by watches.';
  static override description = `A full-screen view of what status, doctor and check report, updated as the cluster changes (watches, no polling). Keys as in k9s: ":" switches view (:net, :nodes, :pods, :doctor, :check; Tab completes), "/" filters, arrows or j/k move, Enter drills in (network → hosts x NICs grid → host x NIC detail; a pod → doctor pod; a doctor finding → its cause and fix), Esc goes back, "?" lists the current view's keys, "r" re-reads everything, q or Ctrl-C quits (a running check is cancelled and its pods deleted first).

Cells are judged from the kernel truth each agent publishes when it does (routes missing, link down), else from the agent's route report and NIC discovery. Needs a terminal: in scripts use status, doctor or check. NO_COLOR (or --no-color) shows state by symbols (✓ ! ✗).`;
  static override examples = ['<%= config.bin %> ui', '<%= config.bin %> ui --network multi-nic-sample', 'NO_COLOR=1 <%= config.bin %> ui --context lab'];
  static override flags = {
    network: Flags.string({ description: 'Open the hosts x NICs grid of this network.' }),
    'check-duration': Flags.integer({ description: 'Seconds each iperf3 test of a check started from the UI sends.', default: 5, min: 1 }),
  };

  async run(): Promise<void> {
    if (!process.stdout.isTTY || !process.stdin.isTTY) {
      throw new UserError('kubectl multinic ui needs an interactive terminal (stdin and stdout must be a TTY)', {
        hint: 'for scripts and pipes use kubectl multinic status (-o json), doctor or check',
      });
    }
    const kube = await this.kube();
    await requireInstalled(kube);
    const f = this.flags;
    if (f.network && !(await kube.get(R.MultiNicNetwork, f.network))) {
      throw new UserError(`MultiNicNetwork "${f.network}" not found`, { hint: 'kubectl multinic status lists the networks' });
    }
    // The feed's first lists run while Ink and React load.
    const { ClusterFeed } = await import('../ui/feed.js');
    const feed = new ClusterFeed(kube);
    // Ink draws only the last frame when it believes it runs in CI (is-in-ci reads CI or
    // CONTINUOUS_INTEGRATION at import). This is an interactive terminal, checked above: a CI variable
    // left in the user's shell (or a CI job that opens a real terminal, as our tmux test does) must not
    // turn the TUI into a blank screen. The child processes the UI starts see the same value.
    for (const k of ['CI', 'CONTINUOUS_INTEGRATION']) if (k in process.env) process.env[k] = 'false';
    const { renderUi } = await import('../ui/run.js');
    await renderUi({
      kube,
      feed,
      context: f.context ?? contextName({ kubeconfig: f.kubeconfig, env: process.env }) ?? '(in-cluster)',
      color: useColor(process.stdout, f['no-color'], process.env),
      network: f.network,
      cliVersion: this.config.version,
      check: { namespace: f.namespace ?? kube.namespace, image: defaultImage(this.config.version), duration: f['check-duration'] },
    });
  }
}
