/**
 * argv → a subcommand call. The only place that exits the process; each subcommand returns its exit
 * code or throws a CliError carrying one. Heavy modules load only on the path that needs them.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliError } from './errors.js';
import { START_OPTIONS } from './config/start-options.js';

const START_HELP = `
Exit codes:
  0  stopped normally (in the foreground)
  1  runtime failure: a worker slot failed to start --start-retries + 1 times
  2  usage or configuration error, worker program not found
  3  address in use or cannot bind (a live server on the Unix path, a non-socket file there)
  4  permission denied (bind, program not executable, user switch refused)
  5  already running

Signals: TERM, INT and QUIT stop (--stop-signal to every worker group, SIGKILL after --stop-timeout);
a second one kills at once. USR1 reopens log files.`;

const PROBE_HELP = `
Exit codes:
  0  2xx or 3xx (no Status header means 200)
  1  any other status
  2  usage error (bad address)
  3  connection refused, or no socket at the path
  4  timeout
  5  protocol error (not FastCGI, or closed before the end of the request)`;

/** Usage errors as one line, `fcgi-spawn: …`, ending in exit code 2 (set on every command: addCommand copies nothing). */
function oneLineErrors(command: Command): Command {
  return command
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'fcgi-spawn: ')) });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function startCommand(run: (code: Promise<number>) => void): Command {
  const command = oneLineErrors(new Command('start'))
    .description('bind the socket and run N workers on it, respawning them when they die')
    .argument('<command...>', 'the worker program and its arguments (after --)')
    .passThroughOptions()
    .addHelpText('after', START_HELP);
  for (const spec of START_OPTIONS) {
    const option = new Option(spec.flags, spec.description + (spec.defaultText ? ` (default: ${spec.defaultText})` : ''));
    if (spec.repeatable) option.argParser(collect);
    command.addOption(option);
  }
  return command.action(async (words: string[], options: Record<string, unknown>) => {
    const { runStart } = await import('./commands/start.js');
    run(runStart(options, words));
  });
}

function probeCommand(run: (code: Promise<number>) => void): Command {
  return oneLineErrors(new Command('probe'))
    .description('send one FastCGI GET request and report the answer (a health check)')
    .argument('<address>', 'HOST:PORT, [IPV6]:PORT or a Unix socket path')
    .argument('[path]', 'request path with optional ?query; used as SCRIPT_FILENAME too', '/')
    .option('-t, --timeout <secs>', 'give up after this many seconds', '5')
    .option('--param <KEY=VALUE>', 'extra FastCGI parameter (repeatable)', collect)
    .addHelpText('after', PROBE_HELP)
    .action(async (address: string, path: string, options: { timeout: string; param?: string[] }) => {
      const { runProbeCommand } = await import('./commands/probe-command.js');
      run(runProbeCommand(address, path, options));
    });
}

export async function main(argv: readonly string[]): Promise<number> {
  let pending: Promise<number> | undefined;
  const run = (code: Promise<number>): void => {
    pending = code;
  };
  const program = oneLineErrors(new Command('fcgi-spawn'))
    .description('A FastCGI process supervisor: binds the socket, runs N workers on it, respawns them.')
    .enablePositionalOptions()
    .addCommand(startCommand(run))
    .addCommand(probeCommand(run));
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
