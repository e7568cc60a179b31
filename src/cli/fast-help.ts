// The fast path of bin/kubectl-multinic: `--help`, `COMMAND... --help`, `help [COMMAND...]`, no
// arguments at all, and `version --client`, printed from package.json and oclif.manifest.json
// without loading oclif. Loading oclif is most of a CLI start-up (issue 14; bench/cli-startup):
// Node compiles its ~150 CommonJS files before it prints a fixed text.
//
// The text is oclif's own: the help is formatted by oclif's HelpFormatter, CommandHelp and
// RootHelp (dist/cli/oclif-help.cjs, bundled from the installed @oclif/core by
// scripts/build-help-bundle.mjs), and this file only does what oclif's Help class does around them
// (which command or topic, which sections, in which order), over the commands and topics oclif's
// Config builds from the same two files. test/cli/fast-help.test.ts compares every invocation
// with oclif's output. Anything that could make oclif print something else makes the fast path
// step aside (returns false, the caller runs oclif): an oclif setting in package.json beyond the
// ones this CLI uses (theme, help class or options, plugins, init hooks, ...), a command with
// aliases, a state or dynamic help, a manifest or bundle of another version, an oclif or
// KUBECTL_MULTINIC_* environment variable (DEBUG, OCLIF_COLUMNS aside), a user theme or user
// plugins, a command or topic it does not know (oclif says so), or MULTINIC_FAST_HELP=0.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { oclifDirname, oclifUserFiles } from './oclif-dirs.js';

const WORD = /^[a-z][a-z0-9-]*$/;
/** The keys of package.json's `oclif` section this file knows oclif's behaviour for. */
const OCLIF_KEYS = new Set(['bin', 'dirname', 'commands', 'topicSeparator', 'hooks', 'topics']);

interface Cmd {
  id: string;
  hidden?: boolean;
  summary?: string;
  description?: string;
  aliases?: string[];
  hiddenAliases?: string[];
  state?: string;
  hasDynamicHelp?: boolean;
  deprecationOptions?: unknown;
  strict?: boolean;
  args?: Record<string, unknown>;
}
interface Topic {
  name: string;
  description?: string;
  hidden?: boolean;
}
interface Formatter {
  opts: { maxWidth: number; stripAnsi?: boolean };
  render(t: string): string;
  wrap(t: string, spacing?: number): string;
  section(header: string, body: string): string;
  renderList(rows: Array<[string, string | undefined]>, o: { indentation: number; spacer: string; stripAnsi?: boolean }): string;
}
interface Bundle {
  oclifVersion: string;
  HelpFormatter: new (config: unknown, opts: object) => Formatter;
  CommandHelp: new (cmd: Cmd, config: unknown, opts: object) => { generate(): string; render(t: string): string };
  RootHelp: new (config: unknown, opts: object) => { root(): string; render(t: string): string };
  standardizeIDFromArgv(argv: string[], config: unknown): string[];
  sortBy<T>(xs: T[], f: (x: T) => unknown): T[];
  uniqBy<T>(xs: T[], f: (x: T) => unknown): T[];
  compact<T>(xs: Array<T | undefined | false | ''>): T[];
  strip(s: string): string;
}
interface Pjson {
  name: string;
  version: string;
  description?: string;
  oclif: { bin: string; dirname?: string; commands?: unknown; topicSeparator?: string; hooks?: Record<string, unknown>; topics?: Record<string, Topic & { subtopics?: unknown }> } & Record<string, unknown>;
}

/** What an invocation asks for, or undefined when the fast path does not serve it. */
type Ask = { kind: 'help'; argv: string[] } | { kind: 'help-command'; words: string[] } | { kind: 'version' };

function ask(argv: readonly string[]): Ask | undefined {
  if (argv.length === 2 && argv[0] === 'version' && argv[1] === '--client') return { kind: 'version' };
  // oclif: no arguments, or --help anywhere, is its help (main.js helpAddition).
  if (argv.length === 0) return { kind: 'help', argv: [] };
  if (argv.at(-1) === '--help' && argv.slice(0, -1).every((w) => WORD.test(w))) return { kind: 'help', argv: [...argv] };
  if (argv[0] === 'help' && argv.slice(1).every((w) => WORD.test(w))) return { kind: 'help-command', words: argv.slice(1) };
  return undefined;
}

/** Whether the environment could change what oclif prints (see the file comment). */
function envInterferes(env: NodeJS.ProcessEnv): boolean {
  if (env['MULTINIC_FAST_HELP'] === '0' || env['DEBUG'] !== undefined) return true;
  return Object.keys(env).some((k) => (k.startsWith('OCLIF_') && k !== 'OCLIF_COLUMNS') || /^KUBECTL[ _]MULTINIC_/.test(k));
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/**
 * Serves the invocation when it can: writes what oclif would write to stdout and returns true.
 * Returns false (having written nothing) when oclif must run; never throws.
 */
export function fastPath(root: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const a = ask(argv);
  if (!a || envInterferes(env) || (process.platform !== 'linux' && process.platform !== 'darwin')) return false;
  let text: string | undefined;
  try {
    text = render(root, a, env);
  } catch {
    return false;
  }
  if (text === undefined) return false;
  process.stdout.write(text);
  return true;
}

function render(root: string, a: Ask, env: NodeJS.ProcessEnv): string | undefined {
  const pjson = readJson<Pjson>(join(root, 'package.json'));
  const o = pjson.oclif;
  if (Object.keys(o).some((k) => !OCLIF_KEYS.has(k)) || o.topicSeparator !== ' ' || typeof o.commands !== 'string') return undefined;
  if (Object.keys(o.hooks ?? {}).some((h) => h !== 'command_not_found')) return undefined;
  // User plugins (oclif reads them from its data dir), a user theme (its config dir).
  const [theme, plugins] = oclifUserFiles(env, oclifDirname(pjson));
  if (existsSync(plugins)) return undefined;
  // src/commands/version.ts with --client: the client line, nothing asked of the cluster.
  if (a.kind === 'version') return `Client Version: ${pjson.version} (node ${process.version}, ${process.platform}/${process.arch})\n`;
  if (existsSync(theme)) return undefined;
  const manifest = readJson<{ version: string; commands: Record<string, Cmd> }>(join(root, 'oclif.manifest.json'));
  if (manifest.version !== pjson.version) return undefined;
  const commands = Object.values(manifest.commands);
  if (commands.some((c) => (c.aliases?.length ?? 0) > 0 || (c.hiddenAliases?.length ?? 0) > 0 || c.state || c.hasDynamicHelp || c.deprecationOptions)) return undefined;
  const req = createRequire(join(root, 'package.json'));
  const b = req(join(root, 'dist', 'cli', 'oclif-help.cjs')) as Bundle;
  // The installed oclif's version: at the usual place, else where Node resolves it (hoisted).
  const direct = join(root, 'node_modules', '@oclif', 'core', 'package.json');
  const installed = readJson<{ version: string }>(existsSync(direct) ? direct : req.resolve('@oclif/core/package.json')).version;
  if (b.oclifVersion !== installed) return undefined;
  return new HelpText(b, pjson, commands).show(a);
}

/** What oclif's Help class prints, over oclif's formatter (see the file comment). */
class HelpText {
  private readonly f: Formatter;
  private readonly config: Record<string, unknown>;
  private readonly byId: Map<string, Cmd>;
  private readonly topics: Map<string, Topic>;
  private out = '';

  constructor(
    private readonly b: Bundle,
    private readonly pjson: Pjson,
    private readonly commands: Cmd[],
  ) {
    this.byId = new Map(commands.map((c) => [c.id, c]));
    // oclif's Config.loadTopics: the declared topics, then one per prefix of every visible command.
    this.topics = new Map();
    for (const [name, t] of Object.entries(pjson.oclif.topics ?? {})) {
      if (t.subtopics) throw new Error('nested topics: oclif decides');
      this.topics.set(name, { ...t, name });
    }
    for (const c of commands.filter((x) => !x.hidden)) {
      const parts = c.id.split(':');
      while (parts.length > 0) {
        const name = parts.join(':');
        if (name && !this.topics.has(name)) this.topics.set(name, { description: c.summary || c.description, name } as Topic);
        parts.pop();
      }
    }
    this.config = {
      bin: pjson.oclif.bin,
      name: pjson.name,
      version: pjson.version,
      pjson,
      platform: process.platform,
      arch: process.arch,
      shell: '',
      theme: undefined,
      topicSeparator: ' ',
      userAgent: `${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}`,
      commandIDs: [...this.byId.keys()],
      findCommand: (id: string) => this.byId.get(id),
      findTopic: (id: string) => this.topics.get(id),
    };
    this.f = this.quick(new b.HelpFormatter(this.config, {}));
  }

  /**
   * oclif renders every piece of help text as an EJS template, and EJS compiles a function for
   * each (a third of the fast path's time). A text without `<%` renders as itself, so only the
   * others go to EJS.
   */
  private quick<T extends { render(t: string): string }>(x: T): T {
    const ejs = x.render;
    x.render = (t: string) => (t.includes('<%') ? ejs(t) : t);
    return x;
  }

  show(a: Exclude<Ask, { kind: 'version' }>): string | undefined {
    if (a.kind === 'help-command') {
      // src/commands/help.ts: an unknown id is its error; it runs after BaseCommand.init, which
      // turns NO_COLOR into FORCE_COLOR=0.
      const id = a.words.join(':');
      if (id && !this.byId.has(id) && !this.topics.has(id)) return undefined;
      if (process.env['NO_COLOR']) process.env['FORCE_COLOR'] = '0';
      return this.showHelp(a.words);
    }
    return this.showHelp(a.argv);
  }

  private log(s: string): void {
    this.out += `${s}\n`;
  }

  /** Help.showHelp. */
  private showHelp(argv: string[]): string | undefined {
    const words = this.b.standardizeIDFromArgv(
      argv.filter((x) => x !== '--help'),
      this.config,
    );
    const subject = words.find((x) => x !== 'help' && x !== '--help');
    if (subject === undefined) {
      this.showRootHelp();
      return this.out;
    }
    const cmd = this.byId.get(subject);
    if (cmd) {
      this.showCommandHelp(cmd);
      return this.out;
    }
    const topic = this.topics.get(subject);
    if (topic) {
      this.showTopicHelp(topic);
      return this.out;
    }
    return undefined;
  }

  private get sortedCommands(): Cmd[] {
    return this.b.uniqBy(
      this.b.sortBy(
        this.commands.filter((c) => !c.hidden),
        (c) => c.id,
      ),
      (c) => c.id,
    );
  }

  /** Help._topics then sortedTopics: topics with a child, visible, by name. */
  private get sortedTopics(): Topic[] {
    const all = [...this.topics.values()];
    const withChild = all.filter((t) => all.some((s) => s.name.includes(`${t.name}:`)));
    return this.b.uniqBy(
      this.b.sortBy(
        withChild.filter((t) => !t.hidden),
        (t) => t.name,
      ),
      (t) => t.name,
    );
  }

  private children<T>(xs: T[], name: string, key: (x: T) => string): T[] {
    const depth = name.split(':').length;
    return xs.filter((x) => key(x).startsWith(`${name}:`) && key(x).split(':').length === depth + 1);
  }

  private summary(c: Cmd): string | undefined {
    if (c.summary) return this.f.render(c.summary.split('\n')[0] ?? '');
    return c.description && this.f.render(c.description).split('\n')[0];
  }

  private formatCommands(commands: Cmd[]): string {
    if (commands.length === 0) return '';
    const rows = commands.map((c): [string, string | undefined] => {
      c.id = c.id.replaceAll(':', ' ');
      const s = this.summary(c);
      return [c.id, s && this.b.strip(s)];
    });
    return this.f.section('COMMANDS', this.f.renderList(rows, { indentation: 2, spacer: '\n', stripAnsi: this.f.opts.stripAnsi }));
  }

  private formatTopics(topics: Topic[]): string {
    if (topics.length === 0) return '';
    const rows = topics.map((t): [string, string | undefined] => {
      t.name = t.name.replaceAll(':', ' ');
      return [t.name, t.description && this.f.render(t.description.split('\n')[0] ?? '')];
    });
    return this.f.section('TOPICS', this.f.renderList(rows, { indentation: 2, spacer: '\n', stripAnsi: this.f.opts.stripAnsi }));
  }

  private showRootHelp(): void {
    const topics = this.sortedTopics.filter((t) => !t.name.includes(':'));
    const commands = this.sortedCommands.filter((c) => !c.id.includes(':'));
    this.log(this.quick(new this.b.RootHelp(this.config, this.f.opts)).root());
    this.log('');
    if (topics.length > 0) {
      this.log(this.formatTopics(topics));
      this.log('');
    }
    // Help.showRootHelp tests the list before it drops id-less commands (a blank section is kept).
    if (commands.length > 0) {
      this.log(this.formatCommands(commands.filter((c) => c.id)));
      this.log('');
    }
  }

  private showCommandHelp(cmd: Cmd): void {
    const subTopics = this.children(this.sortedTopics, cmd.id, (t) => t.name);
    const subCommands = this.children(this.sortedCommands, cmd.id, (c) => c.id);
    const summary = this.summary(cmd);
    if (summary) this.log(`${summary}\n`);
    cmd.id = cmd.id.replaceAll(':', ' ');
    this.log(this.quick(new this.b.CommandHelp(cmd, this.config, this.f.opts)).generate());
    this.log('');
    this.logLists(subTopics, subCommands);
  }

  private showTopicHelp(topic: Topic): void {
    const subTopics = this.children(this.sortedTopics, topic.name, (t) => t.name);
    const commands = this.children(this.sortedCommands, topic.name, (c) => c.id);
    const description = this.f.render(topic.description || '');
    const lines = description.split('\n');
    const rest = lines.slice(1).join('\n');
    let text = this.b
      .compact([lines[0], this.f.section('USAGE', `$ ${this.pjson.oclif.bin} ${topic.name.replaceAll(':', ' ')} COMMAND`), rest && this.f.section('DESCRIPTION', this.f.wrap(rest))])
      .join('\n\n');
    if (this.f.opts.stripAnsi) text = this.b.strip(text);
    this.log(`${text}\n`);
    this.logLists(subTopics, commands);
  }

  /** The TOPICS then the COMMANDS section, each followed by a blank line, when it has any. */
  private logLists(topics: Topic[], commands: Cmd[]): void {
    if (topics.length > 0) {
      this.log(this.formatTopics(topics));
      this.log('');
    }
    if (commands.length > 0) {
      this.log(this.formatCommands(commands));
      this.log('');
    }
  }
}
