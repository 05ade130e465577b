/**
 * The commands that scripts and health checks run many times a minute (`status`, `stop`, `probe`), parsed
 * without commander when their command line is plain: loading commander and building the whole program costs
 * ~7 ms of a ~40 ms run (measured, bench:cli). Plain means every word is one of the command's own options (long
 * `--x v`, `--x=v`, or short `-x v`, each at most once, a value not starting with '-') or one of its arguments. Anything
 * else — help, an unknown or repeated option, a missing value, `--`, too many arguments — is left to commander
 * (cli.ts), so every message, help text and exit code stays the one commander gives. A command added to cli.ts
 * needs nothing here; one added here must mean exactly what its commander definition means.
 */
import { CliError } from './errors.js';
import { flushed, printError, printOut } from './commands/print.js';

/** `--version` alone (and spawn-fcgi's `-v`, cli.ts's SPAWN_FCGI_WORDS): what commander prints for it, and exit 0. */
const VERSION_WORDS = ['--version', '-V', '-v'];

async function printVersion(): Promise<number> {
  printOut(`${(await import('./version.js')).VERSION}\n`);
  return 0;
}

interface OptionSpec {
  /** The key commander gives the value under (camelCase of the long flag). */
  readonly key: string;
  readonly value: boolean;
  /** Collected into an array (commander's `collect`): may repeat. */
  readonly repeatable?: boolean;
  /** Only these values; anything else goes to commander, which names the choices. */
  readonly choices?: readonly string[];
}

interface CommandSpec {
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly required: number;
  /** Defaults of the optional arguments, in order. */
  readonly optional: readonly string[];
  /** Defaults commander fills in for options not given. */
  readonly defaults?: Readonly<Record<string, string>>;
  readonly run: (args: readonly string[], options: Record<string, unknown>) => Promise<number>;
}

const value = (key: string): OptionSpec => ({ key, value: true });
const flag = (key: string): OptionSpec => ({ key, value: false });

/** selector-options.ts, as flags. */
const SELECTOR: Readonly<Record<string, OptionSpec>> = {
  '--name': value('name'),
  '--port': value('port'),
  '-p': value('port'),
  '--address': value('address'),
  '-a': value('address'),
  '--socket': value('socket'),
  '-s': value('socket'),
  '--pidfile': value('pidfile'),
  '-P': value('pidfile'),
};

/** The same options and defaults as their definitions in cli.ts (test/cli/fast-path checks both give the same). */
const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  status: {
    options: { ...SELECTOR, '--json': flag('json'), '--format': value('format'), '--pool': value('pool') },
    required: 0,
    optional: [],
    run: async (_args, options) => (await import('./commands/status.js')).runStatus(options, options),
  },
  stop: {
    options: { ...SELECTOR, '--timeout': value('timeout'), '--graceful': flag('graceful') },
    required: 0,
    optional: [],
    run: async (_args, options) => (await import('./commands/stop.js')).runStop(options, options),
  },
  probe: {
    options: {
      '--timeout': value('timeout'),
      '-t': value('timeout'),
      '--protocol': { key: 'protocol', value: true, choices: ['fastcgi', 'http', 'scgi'] },
      '--param': { key: 'param', value: true, repeatable: true },
    },
    required: 1,
    optional: ['/'],
    defaults: { timeout: '5' },
    run: async ([address, path], options) => (await import('./commands/probe-command.js')).runProbeCommand(address as string, path as string, options as never),
  },
};

/** The parsed call, or undefined when commander must parse it. */
function parse(argv: readonly string[]): { spec: CommandSpec; args: string[]; options: Record<string, unknown> } | undefined {
  const spec = COMMANDS[argv[0] ?? ''];
  if (spec === undefined || !Object.hasOwn(COMMANDS, argv[0] as string)) return undefined;
  const args: string[] = [];
  const options: Record<string, unknown> = {};
  for (let i = 1; i < argv.length; i += 1) {
    const word = argv[i] as string;
    if (!word.startsWith('-')) {
      args.push(word);
      continue;
    }
    const equals = word.startsWith('--') ? word.indexOf('=') : -1;
    const name = equals > 0 ? word.slice(0, equals) : word;
    const option = Object.hasOwn(spec.options, name) ? spec.options[name] : undefined;
    if (option === undefined) return undefined;
    let given: string | true = true;
    if (option.value) {
      const next = equals > 0 ? word.slice(equals + 1) : argv[(i += 1)];
      if (next === undefined || (equals < 0 && next.startsWith('-'))) return undefined;
      if (option.choices && !option.choices.includes(next)) return undefined;
      given = next;
    } else if (equals > 0) return undefined;
    if (option.repeatable) options[option.key] = [...((options[option.key] as string[] | undefined) ?? []), given];
    else if (Object.hasOwn(options, option.key)) return undefined;
    else options[option.key] = given;
  }
  if (args.length < spec.required || args.length > spec.required + spec.optional.length) return undefined;
  const filled = [...args, ...spec.optional.slice(args.length - spec.required)];
  return { spec, args: filled, options: { ...spec.defaults, ...options } };
}

/**
 * Runs the command when its line is plain (see above) and returns its exit code; undefined: not handled, nothing
 * done. A CliError ends as it does in cli.ts: `fcgi-spawn: message` and its code.
 */
export function runFastPath(argv: readonly string[]): Promise<number> | undefined {
  if (argv.length === 1 && VERSION_WORDS.includes(argv[0] as string)) return whenFlushed(printVersion());
  const call = parse(argv);
  if (call === undefined) return undefined;
  const code = call.spec.run(call.args, call.options).catch((error: unknown) => {
    if (!(error instanceof CliError)) throw error;
    printError(`fcgi-spawn: ${error.message}\n`);
    return error.exitCode;
  });
  return whenFlushed(code);
}

/** bin/fcgi-spawn.js calls process.exit with the code (or 70 on an error): not before the output is out (print.ts). */
async function whenFlushed(code: Promise<number>): Promise<number> {
  try {
    return await code;
  } finally {
    await flushed();
  }
}

/** For the tests: what the fast path would parse, or undefined. */
export function parseFastPath(argv: readonly string[]): { command: string; args: string[]; options: Record<string, unknown> } | undefined {
  const call = parse(argv);
  return call && { command: argv[0] as string, args: call.args, options: call.options };
}
