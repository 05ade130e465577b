/**
 * argv → a subcommand call. The only place that exits the process; each subcommand returns its exit
 * code or throws a CliError carrying one. Heavy modules load only on the path that needs them.
 */
import { createRequire } from 'node:module';
import type { Command as CommandType } from 'commander';

// require(), not import: commander is CommonJS, and loading it through the ESM loader costs about
// twice as much (measured: +13 ms vs +6.7 ms) on commands that scripts run many times a minute.
const require = createRequire(import.meta.url);
const { Argument, Command, CommanderError, Option } = require('commander') as typeof import('commander');
type Command = CommandType;
const VERSION = (require('../../package.json') as { version: string }).version;
import { CliError } from './errors.js';
import { addSelectorOptions } from './commands/selector-options.js';
import { flushed } from './commands/print.js';

const START_HELP = `
Exit codes:
  0  ready (as a daemon); stopped normally (in the foreground, -n)
  1  runtime failure: a worker slot failed to start --start-retries + 1 times
  2  usage or configuration error, worker program not found
  3  address in use or cannot bind (a live server on the Unix path, a non-socket file there)
  4  permission denied (bind, program not executable, user switch refused); a log file or
     directory another user could swap, refused
  5  already running

Signals: TERM and INT stop (--stop-signal to every worker group, SIGKILL after --stop-timeout; a
second one kills at once). QUIT stops gracefully (requests in flight finish, --graceful-timeout).
HUP reloads without dropping a request. TTIN and TTOU add or retire a worker. USR1 reopens log files.
USR2 replaces the supervisor's program by the one now on disk, in place (see 'fcgi-spawn upgrade').`;

const PROBE_HELP = `
Exit codes:
  0  2xx or 3xx (no Status header means 200)
  1  any other status
  2  usage error (bad address)
  3  connection refused, or no socket at the path
  4  timeout
  5  protocol error (not the protocol spoken, or closed before the end of the response)`;

/** Usage errors as one line, `fcgi-spawn: …`, ending in exit code 2 (set on every command: addCommand copies nothing). */
function oneLineErrors(command: Command): Command {
  return command
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'fcgi-spawn: ')) });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

type OptionTable = typeof import('./config/options.js');
type SpawnFcgiTable = typeof import('./config/spawn-fcgi.js');
/** What start and config print need: the option table, and spawn-fcgi's options that they refuse with a hint. */
type Tables = { readonly options: OptionTable; readonly spawnFcgi: SpawnFcgiTable };

/**
 * The option table's flags (config/options.ts) on a command: `start` and `config print`. No defaults here:
 * config/ applies them, after files, so that only what was typed overrides a file. Without the table (a command
 * that does not use it: status, stop, … load nothing of it) the command gets none.
 */
function addTableOptions(command: Command, tables: Tables | undefined): Command {
  if (tables === undefined) return command;
  const { OPTION_NAMES, flagsOf, option } = tables.options;
  for (const name of OPTION_NAMES) {
    const spec = option(name);
    const flags = flagsOf(name);
    if (flags === undefined) continue;
    const fallback = spec.defaultText ?? (spec.default !== undefined && typeof spec.default !== 'object' && spec.kind.type !== 'boolean' ? String(spec.default) : undefined);
    const added = new Option(flags, spec.help + (spec.kind.repeatable ? ' (repeatable)' : '') + (fallback ? ` (default: ${fallback})` : ''));
    if (spec.kind.repeatable) added.argParser(collect);
    if (spec.hidden) added.hideHelp();
    command.addOption(added);
  }
  // spawn-fcgi's flags that have no meaning here are caught (not in --help), to be refused with what to do instead.
  for (const refused of tables.spawnFcgi.REFUSED_SPAWN_FCGI_OPTIONS) command.addOption(new Option(refused.catch).hideHelp());
  return command;
}

/** A spawn-fcgi flag fcgi-spawn does not take: a usage error (exit 2) that says the fcgi-spawn way. */
function refuseSpawnFcgiFlags(command: Command, tables: Tables): void {
  const given = tables.spawnFcgi.REFUSED_SPAWN_FCGI_OPTIONS.find((refused) => command.getOptionValue(tables.spawnFcgi.caughtAttribute(refused)) !== undefined);
  if (given) throw new CliError(given.hint, 2);
}

/** The table's values commander collected from the command line, by attribute; defaults (--no-daemon's) left out. */
function typedFlags(command: Command, tables: Tables): Record<string, unknown> {
  refuseSpawnFcgiFlags(command, tables);
  const values = command.opts();
  const typed = tables.options.OPTION_NAMES.map(tables.options.attributeOf).filter((key) => values[key] !== undefined && command.getOptionValueSource(key) === 'cli');
  return Object.fromEntries(typed.map((key) => [key, values[key]]));
}

function startCommand(run: (code: Promise<number>) => void, argv: readonly string[], tables: Tables | undefined): Command {
  const command = addTableOptions(oneLineErrors(new Command('start')), tables)
    .description('bind the socket and run N workers on it, respawning them when they die')
    .argument('[command...]', 'the worker program and its arguments (after --); in a config file: command')
    .option('--config <file>', 'read this config file (YAML, JSON, .js/.mjs/.cjs); default: FCGI_SPAWN_CONFIG, else .fcgi-spawnrc* or fcgi-spawn.config.* here')
    .passThroughOptions()
    .addHelpText('after', START_HELP);
  const startArguments = argv.slice(argv.indexOf('start') + 1);
  return command.action(async (words: string[], options: { config?: string }) => {
    const { runStart } = await import('./commands/start.js');
    run(runStart(typedFlags(command, tables as Tables), words, startArguments, options.config));
  });
}

function configCommand(run: (code: Promise<number>) => void, tables: Tables | undefined): Command {
  const config = oneLineErrors(new Command('config')).description('check, convert and describe configuration files').enablePositionalOptions();
  const check = oneLineErrors(new Command('check'))
    .description('validate a configuration (programs, users, addresses) and print it as resolved; exit 0, or 2 with every error')
    .option('--config <file>', 'the config file (default: FCGI_SPAWN_CONFIG, else the one found here)')
    .action(async (options: { config?: string }) => {
      const { runConfigCheck } = await import('./commands/config.js');
      run(runConfigCheck(options.config));
    });
  const schema = oneLineErrors(new Command('schema'))
    .description("print the JSON Schema of config files (also shipped as the package's schema.json)")
    .action(async () => {
      const { runConfigSchema } = await import('./commands/config.js');
      run(runConfigSchema());
    });
  const print = addTableOptions(oneLineErrors(new Command('print')), tables)
    .description("print the config file that means the same as start's options (the way from a flag line to a file)")
    .argument('[command...]', 'the worker program and its arguments (after --)')
    .passThroughOptions()
    .action(async (words: string[]) => {
      const { runConfigPrint } = await import('./commands/config.js');
      run(runConfigPrint(typedFlags(print, tables as Tables), words));
    });
  return config.addCommand(check).addCommand(schema).addCommand(print);
}

function probeCommand(run: (code: Promise<number>) => void): Command {
  return oneLineErrors(new Command('probe'))
    .description('send one GET request in FastCGI, HTTP or SCGI and report the answer (a health check)')
    .argument('<address>', 'HOST:PORT, [IPV6]:PORT or a Unix socket path')
    .argument('[path]', 'request path with optional ?query; FastCGI: used as SCRIPT_FILENAME too', '/')
    .option('-t, --timeout <secs>', 'give up after this many seconds', '5')
    .addOption(new Option('--protocol <name>', "what the pool speaks (default: its record's, else fastcgi)").choices(['fastcgi', 'http', 'scgi']))
    .option('--param <KEY=VALUE>', 'extra FastCGI or SCGI parameter (repeatable)', collect)
    .addHelpText('after', PROBE_HELP)
    .action(async (address: string, path: string, options: { timeout: string; param?: string[]; protocol?: 'fastcgi' | 'http' | 'scgi' }) => {
      const { runProbeCommand } = await import('./commands/probe-command.js');
      run(runProbeCommand(address, path, options));
    });
}

const STOP_HELP = `
Exit codes:
  0  stopped, or was not running
  1  did not stop within --timeout: killed (SIGKILL to the supervisor and its worker groups)
  2  usage error
  4  the run directory was refused (not ours, or open to others): nothing in it is believed`;

const STATUS_HELP = `
Exit codes (LSB):
  0  running
  1  dead, but its pidfile remains
  3  not running
  4  unknown (the control socket did not answer, a usage error, or the run directory was refused)`;

const TOP_HELP = `
Exit codes:
  0  quit (q, Ctrl-C, SIGTERM) or --iterations frames shown
  1  dead, but its pidfile remains
  3  not running
  4  unknown (the control socket did not answer, a usage error, or the run directory was refused)`;

const REQUEST_HELP = `
Exit codes:
  0  done
  1  failed (a failed reload keeps the old workers serving)
  2  usage error
  3  not running
  4  the control socket did not answer
  5  the run directory was refused (not ours, or open to others): nothing in it is believed`;

const LIST_HELP = `
Exit codes:
  0  listed (records and pidfiles that fail the checks are ignored, with a warning)
  4  the run directory was refused (not ours, or open to others): nothing in it is believed`;

const UPGRADE_HELP = `
Exit codes:
  0  upgraded: the same pid runs the new program, every pool reloaded onto its workers
  1  failed: the new program could not reload a pool (the adopted workers keep serving under it),
     execve failed (the old program keeps serving), or the supervisor is busy (a reload under way)
  2  usage error
  3  not running
  4  the control socket did not answer, or the upgrade did not finish within --timeout
  5  the run directory was refused (not ours, or open to others): nothing in it is believed
  6  the new program failed its checks (--version, config check): nothing was changed

SIGUSR2 to the supervisor does the same, told only to its log.`;

const RESTART_HELP = `
Exit codes: those of stop, then those of start.`;

type SelectorOptions = { name?: string; port?: string; address?: string; socket?: string; pidfile?: string };

function instanceCommand(name: string, description: string, help: string): Command {
  return oneLineErrors(new Command(name)).description(description).addHelpText('after', help);
}

function controlCommands(run: (code: Promise<number>) => void): Command[] {
  const stop = addSelectorOptions(instanceCommand('stop', 'stop an instance and every worker (TERM; QUIT with --graceful)', STOP_HELP))
    .option('--timeout <secs>', 'SIGKILL after this long (default: 30, graceful: 60)')
    .option('--graceful', 'let requests in flight finish (QUIT)')
    .action(async (options: SelectorOptions & { timeout?: string; graceful?: boolean }) => {
      const { runStop } = await import('./commands/stop.js');
      run(runStop(options, options));
    });
  const status = addSelectorOptions(instanceCommand('status', 'show an instance, its pools and their workers', STATUS_HELP))
    .option('--json', 'one JSON object (as --format json)')
    .option('--format <format>', 'text, json or prometheus (the text format /metrics serves)')
    .option('--pool <name>', 'only this pool')
    .action(async (options: SelectorOptions & { json?: boolean; format?: string; pool?: string }) => {
      const { runStatus } = await import('./commands/status.js');
      run(runStatus(options, options));
    });
  const top = addSelectorOptions(instanceCommand('top', 'a live view of every pool, refreshed once a second (q or Ctrl-C quits; without a terminal, one frame per second)', TOP_HELP))
    .option('--iterations <count>', 'stop after this many frames')
    .action(async (options: SelectorOptions & { iterations?: string }) => {
      const { runTop } = await import('./commands/top.js');
      run(runTop(options, options));
    });
  const reload = addSelectorOptions(instanceCommand('reload', 're-read the configuration; every pool (or --pool) gets new workers, steered to once ready, the old retired without a drop', REQUEST_HELP))
    .option('--pool <name>', 'only this pool')
    .option('--timeout <secs>', 'give up waiting after this long', '300')
    .action(async (options: SelectorOptions & { timeout: string; pool?: string }) =>
      run(request(options, { command: 'reload', ...(options.pool !== undefined ? { pool: options.pool } : {}) }, options.timeout)),
    );
  const update = addSelectorOptions(instanceCommand('update', 're-read the configuration and apply only what changed: add, remove, scale or reload those pools', REQUEST_HELP))
    .option('--timeout <secs>', 'give up waiting after this long', '300')
    .action(async (options: SelectorOptions & { timeout: string }) => run(request(options, { command: 'update' }, options.timeout)));
  const scale = addSelectorOptions(instanceCommand('scale', 'change the number of workers of a pool', REQUEST_HELP))
    .argument('<workers>', 'the number of workers wanted (1-4096)')
    .option('--pool <name>', 'the pool (may be left out when there is one)')
    .option('--timeout <secs>', 'give up waiting after this long', '300')
    .action(async (workers: string, options: SelectorOptions & { timeout: string; pool?: string }) => {
      const { parseInteger } = await import('./config/values.js');
      const count = (() => {
        try {
          return parseInteger('workers', workers, 1, 4096);
        } catch (error) {
          throw new CliError((error as Error).message, 2);
        }
      })();
      run(request(options, { command: 'scale', workers: count, ...(options.pool !== undefined ? { pool: options.pool } : {}) }, options.timeout));
    });
  const reopen = addSelectorOptions(instanceCommand('reopen-logs', 'reopen log files (after logrotate moved them)', REQUEST_HELP))
    .action(async (options: SelectorOptions) => run(request(options, { command: 'reopen-logs' }, '10')));
  const upgrade = addSelectorOptions(instanceCommand('upgrade', 'replace the supervisor by the program now on disk, in place (same pid, sockets and workers kept), then reload every pool', UPGRADE_HELP))
    .option('--timeout <secs>', 'give up waiting after this long', '300')
    .action(async (options: SelectorOptions & { timeout: string }) => {
      const [{ runUpgrade }, { parseSeconds }] = await Promise.all([import('./commands/upgrade.js'), import('./config/values.js')]);
      let timeoutMs: number;
      try {
        timeoutMs = parseSeconds('--timeout', options.timeout);
      } catch (error) {
        throw new CliError((error as Error).message, 2);
      }
      run(runUpgrade(options, timeoutMs));
    });
  const restart = addSelectorOptions(instanceCommand('restart', 'stop, then start again with the recorded settings', RESTART_HELP))
    .option('--timeout <secs>', 'stop: SIGKILL after this long', '30')
    .action(async (options: SelectorOptions & { timeout: string }) => {
      const { runRestart } = await import('./commands/restart.js');
      run(runRestart(options, options));
    });
  const list = oneLineErrors(new Command('list'))
    .description('every instance in the run directory')
    .option('--json', 'one JSON array')
    .addHelpText('after', LIST_HELP)
    .action(async (options: { json?: boolean }) => {
      const { runList } = await import('./commands/list.js');
      run(Promise.resolve(runList(options)));
    });
  return [stop, status, top, reload, update, scale, reopen, upgrade, restart, list];
}

async function request(selector: SelectorOptions, message: import('./control/protocol.js').ControlRequest, timeout: string): Promise<number> {
  const [{ runControlRequest }, { parseSeconds }] = await Promise.all([import('./commands/control-request.js'), import('./config/values.js')]);
  let timeoutMs: number;
  try {
    timeoutMs = parseSeconds('--timeout', timeout);
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
  return runControlRequest(selector, message, timeoutMs);
}

/** spawn-fcgi's `-v` and `-?` as the first word: the version and the help, as spawn-fcgi's users type them. */
const SPAWN_FCGI_WORDS: Readonly<Record<string, string>> = { '-v': '--version', '-?': '--help' };

/**
 * Runs one command line and returns its exit code, once everything it printed is out: status, stop and probe
 * print through commands/print.ts, whose writes fall back to a stream that bin's process.exit would cut short.
 */
export async function main(given: readonly string[]): Promise<number> {
  try {
    return await parseAndRun(given);
  } finally {
    await flushed();
  }
}

async function parseAndRun(given: readonly string[]): Promise<number> {
  const argv = given[0] !== undefined && SPAWN_FCGI_WORDS[given[0]] !== undefined ? [SPAWN_FCGI_WORDS[given[0]] as string, ...given.slice(1)] : given;
  // The subcommand is the first word (the program's own options are only -h and -V). Only start and config
  // (and help for them), and completion (which lists start's flags) need the option table: scripts run status
  // and stop many times a minute.
  const tables = ['start', 'config', 'help', 'completion'].includes(argv[0] ?? '')
    ? await Promise.all([import('./config/options.js'), import('./config/spawn-fcgi.js')]).then(([options, spawnFcgi]) => ({ options, spawnFcgi }))
    : undefined;
  let pending: Promise<number> | undefined;
  const run = (code: Promise<number>): void => {
    pending = code;
  };
  const program = oneLineErrors(new Command('fcgi-spawn'))
    .description('A FastCGI process supervisor: binds the socket, runs N workers on it, respawns them.')
    .version(VERSION, '-V, --version')
    .enablePositionalOptions()
    .addCommand(startCommand(run, argv, tables))
    .addCommand(configCommand(run, tables))
    .addCommand(probeCommand(run));
  for (const command of controlCommands(run)) program.addCommand(command);
  program.addCommand(oneLineErrors(new Command('completion')).description('print the bash or zsh completion script').addArgument(new Argument('<shell>').choices(['bash', 'zsh']))
    .action(async (shell: 'bash' | 'zsh') => run(import('./commands/completion.js').then(({ runCompletion }) => runCompletion(shell, program)))));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return pending ? await pending : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliError) {
      process.stderr.write(`fcgi-spawn: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
