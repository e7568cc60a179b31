// The base of every command: kubectl's global flags, output format, colour, and the mapping of
// errors to exit codes (docs/design.md §3.4). Commands stay thin: parse → gather → lib → render.
import { Command, Errors, Flags, Interfaces } from '@oclif/core';
import type { KubeApi } from '../kube/api.js';
import { ExitCode, UserError } from '../lib/errors.js';
import { emit, type Emittable, type Output } from './output.js';

/** kubectl's global flags. kubectl rejects flags placed before a plugin name, so we parse them. */
export const kubeFlags = {
  kubeconfig: Flags.string({ description: 'Path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config).', helpGroup: 'KUBECTL' }),
  context: Flags.string({ description: 'The kubeconfig context to use.', helpGroup: 'KUBECTL' }),
  namespace: Flags.string({ char: 'n', description: 'Namespace for namespaced operations (kubectl convention).', helpGroup: 'KUBECTL' }),
  'request-timeout': Flags.string({
    description: 'Time to wait for one API request (e.g. 10s, 1m, 1m30s; 0 waits forever).',
    helpGroup: 'KUBECTL',
  }),
};

export const colorFlags = {
  'no-color': Flags.boolean({ description: 'Disable colour (also NO_COLOR=1).', helpGroup: 'GLOBAL' }),
  help: Flags.help({ char: 'h', description: 'Show help for this command.', helpGroup: 'GLOBAL' }),
  'no-headers': Flags.boolean({ description: 'Tables without their header line (kubectl convention).', helpGroup: 'GLOBAL' }),
};

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = { ...kubeFlags, ...colorFlags };

  protected flags!: BaseFlags<T>;
  protected args!: Interfaces.InferredArgs<T['args']>;
  /** Every positional argument, flags removed (commands with `strict = false` take several). */
  protected positional: string[] = [];

  public override async init(): Promise<void> {
    await super.init();
    this.argv = kubectlBooleans(this.argv, { ...(this.ctor as typeof BaseCommand).baseFlags, ...this.ctor.flags });
    const { flags, args, argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as Interfaces.InferredArgs<T['args']>;
    this.positional = argv.map(String);
    if ((this.flags as { 'no-headers'?: boolean })['no-headers']) {
      const { tableDefaults } = await import('./table.js');
      tableDefaults.headers = false;
    }
    if (this.flags['no-color'] || process.env.NO_COLOR) {
      // Read by chalk (Ink's colours) when the TUI first imports it, and by useColor().
      process.env.FORCE_COLOR = '0';
    }
  }

  /**
   * A KubeApi for the kubectl flags (--kubeconfig, --context, -n, --request-timeout). The client is
   * imported lazily: commands that never touch the cluster do not pay for it.
   */
  protected async kube(): Promise<KubeApi> {
    const { connect } = await import('../kube/client.js');
    const f = this.flags as { kubeconfig?: string; context?: string; namespace?: string; 'request-timeout'?: string };
    return connect({ kubeconfig: f.kubeconfig, context: f.context, namespace: f.namespace, requestTimeout: f['request-timeout'] });
  }

  /**
   * Prints the command's data as -o asks (src/cli/output.ts): its table, json, yaml, name or a
   * JSONPath template; a template that does not fit the data is a UserError (exit 2).
   */
  protected async emit(e: Emittable): Promise<void> {
    const f = this.flags as { output?: Output; 'allow-missing-template-keys'?: boolean };
    await emit((t) => process.stdout.write(t), f.output, e, { allowMissingKeys: f['allow-missing-template-keys'] ?? true });
  }

  /** Writes data to stdout exactly as given (no trailing newline added when present). */
  protected out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Writes a message for humans to stderr. */
  protected note(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Maps errors to exit codes: usage/input 2, cluster 3, anything else is a bug (4, with stack). */
  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    const err: Error = error;
    if (err instanceof UserError) {
      // A UserError thrown by a flag's parse (e.g. -o jsonpath=…) comes back with oclif's framing added.
      this.note(`error: ${err.message.replace(/^Parsing --[a-z-]+ \n\t/, '').replace(/\nSee more help with --help$/, '')}`);
      if (err.hint) this.note(`hint: ${err.hint}`);
      this.exit(err.exitCode);
    }
    if (err instanceof Errors.ExitError) throw err;
    if (isParseError(err)) {
      this.note(`error: ${err.message}`);
      this.note(`hint: see 'kubectl multinic ${this.id?.replaceAll(':', ' ') ?? ''} --help'`);
      this.exit(ExitCode.Usage);
    }
    this.note(`internal error (a bug; please report it): ${error.stack ?? error.message}`);
    this.exit(ExitCode.Internal);
  }
}

/**
 * kubectl's boolean flags take `--flag=true|false`; oclif's take `--flag` / `--no-flag`. Rewrites the
 * former into the latter for the command's negatable boolean flags (`--wait=false`,
 * `--allow-missing-template-keys=false`), so kubectl habits work.
 */
export function kubectlBooleans(argv: readonly string[], flags: Record<string, { type?: string; allowNo?: boolean }>): string[] {
  const out: string[] = [];
  for (const [i, a] of argv.entries()) {
    if (a === '--') return [...out, ...argv.slice(i)];
    const m = /^--([a-z0-9-]+)=(true|false)$/.exec(a);
    const f = m ? flags[m[1] as string] : undefined;
    if (m && f?.type === 'boolean' && f.allowNo) out.push(m[2] === 'true' ? `--${m[1]}` : `--no-${m[1]}`);
    else out.push(a);
  }
  return out;
}

function isParseError(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { parse?: unknown; oclif?: { exit?: number } };
  return e.parse !== undefined || e.name.includes('Parse') || e.name.includes('Flag') || e.name.includes('Args') || e.oclif?.exit === 2;
}
