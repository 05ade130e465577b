/**
 * The command line as a layer: each flag commander collected, parsed by its option's schema, with the messages
 * users of spawn-fcgi know (`invalid --port '70000': expected an integer from 1 to 65535`). -a/-p/-s and --listen
 * make one `listen`; the words after `--` are the `command`.
 */
import { resolve } from 'node:path';
import { absolutize, type Layer } from './layers.js';
import { attributeOf, flagsOf, longFlag, OPTION_NAMES, option, type OptionName } from './options.js';
import { quote, type Origin, type Problems } from './problems.js';
import { parseOptionValue } from './schema.js';
import { InvalidValueError, parseEnvAssignment } from './values.js';
import type { ListenAddress } from '../os/sockaddr.js';

/** What commander collected, by attribute (`stopTimeout`): only the flags given (no defaults). */
export type Flags = Readonly<Record<string, unknown>>;

export const COMMAND_ORIGIN: Origin = { kind: 'flag', flag: 'the command after --' };

function envMap(raw: unknown, problems: Problems): Record<string, string> | undefined {
  const map: Record<string, string> = {};
  let ok = true;
  for (const assignment of Array.isArray(raw) ? (raw as unknown[]) : [raw]) {
    try {
      const [key, value] = parseEnvAssignment(String(assignment));
      map[key] = value;
    } catch (error) {
      ok = false;
      problems.add({ kind: 'flag', flag: '--env' }, (error as InvalidValueError).message);
    }
  }
  return ok ? map : undefined;
}

/** -a/-p/-s/--listen → one address, or a problem saying which of them go together (then false). */
function listenFromFlags(parsed: Map<OptionName, unknown>, flags: Flags, problems: Problems, cwd: string): boolean {
  const before = problems.count;
  const given = (name: OptionName): string | undefined => (flags[attributeOf(name)] !== undefined ? String(flags[attributeOf(name)]) : undefined);
  const [listen, address, port, socket] = [given('listen'), given('address'), given('port'), given('socket')];
  const flag = (flag: string): Origin => ({ kind: 'flag', flag });
  if (listen !== undefined && (address ?? port ?? socket) !== undefined) {
    problems.add(flag('--listen'), `--listen ${quote(listen)} names the whole address: leave out -a, -p and -s`);
  } else if (socket !== undefined && port !== undefined) {
    problems.add(flag('--socket'), `--socket ${quote(socket)} and --port ${quote(port)} exclude each other: pick one`);
  } else if (socket !== undefined && address !== undefined) {
    problems.add(flag('--address'), `--address ${quote(address)} applies to TCP only, not to --socket ${quote(socket)}`);
  } else if (address !== undefined && port === undefined) {
    problems.add(flag('--address'), `--address ${quote(address)} needs a port: pass -p PORT too`);
  }
  const host = parsed.get('address') as string | undefined;
  const portNumber = parsed.get('port') as number | undefined;
  const socketPath = parsed.get('socket') as string | undefined;
  let composed: ListenAddress | undefined;
  if (portNumber !== undefined && socket === undefined && listen === undefined) composed = { kind: 'tcp', host: host ?? '127.0.0.1', port: portNumber };
  if (socketPath !== undefined && port === undefined && listen === undefined) composed = { kind: 'unix', path: resolve(cwd, socketPath) };
  for (const name of ['address', 'port', 'socket'] as const) parsed.delete(name);
  if (composed !== undefined) parsed.set('listen', composed);
  return problems.count === before;
}

const PROGRAM_ORIGIN: Origin = { kind: 'flag', flag: '-f' };

/**
 * spawn-fcgi's -f: the program, when none follows `--`. spawn-fcgi ran it through /bin/sh (`exec PROGRAM`), so a
 * value with arguments worked there; here nothing goes through a shell, so it is refused with the `--` form that
 * means the same. spawn-fcgi ignored -f beside a program after `--`: here that is an error, not a silent choice.
 * undefined: no -f; false: refused.
 */
function programFromFlag(parsed: Map<OptionName, unknown>, command: readonly string[], problems: Problems): string | false | undefined {
  const program = parsed.get('program') as string | undefined;
  parsed.delete('program');
  if (program === undefined) return undefined;
  if (command.length > 0) {
    problems.add(PROGRAM_ORIGIN, `-f ${quote(program)} and the program after -- (${quote(command[0])}) both name the worker: give one`);
    return false;
  }
  if (/\s/.test(program)) {
    const words = program.trim().split(/\s+/).join(' ');
    problems.add(PROGRAM_ORIGIN, `invalid -f ${quote(program)}: one program, run without a shell; a program with arguments goes after --: -- ${words}`);
    return false;
  }
  return program;
}

/** The flags of `start` (and `config print`) as the top layer. `command`: the words after `--`. */
export function flagLayer(flags: Flags, command: readonly string[], problems: Problems, cwd: string): Layer {
  const parsed = new Map<OptionName, unknown>();
  const origins = new Map<OptionName, Origin>();
  const failed = new Set<OptionName>();
  for (const name of OPTION_NAMES) {
    const raw = flags[attributeOf(name)];
    if (raw === undefined || flagsOf(name) === undefined) continue;
    origins.set(name, { kind: 'flag', flag: longFlag(name) });
    if (option(name).kind.type === 'env') {
      const map = envMap(raw, problems);
      if (map !== undefined) parsed.set(name, map);
      else failed.add(name);
      continue;
    }
    const result = parseOptionValue(name, raw);
    if (result.ok) parsed.set(name, absolutize(name, result.value, cwd));
    else {
      failed.add(name === 'address' || name === 'port' || name === 'socket' ? 'listen' : name);
      problems.add({ kind: 'flag', flag: longFlag(name) }, `invalid ${longFlag(name)} ${quote(Array.isArray(raw) ? raw.join(' ') : raw)}: expected ${result.expected}`);
    }
  }
  if (!listenFromFlags(parsed, flags, problems, cwd)) failed.add('listen');
  origins.set('listen', { kind: 'flag', flag: flags.socket !== undefined ? '--socket' : flags.port !== undefined ? '--port' : '--listen' });
  const program = programFromFlag(parsed, command, problems);
  if (program === false || failed.has('program')) failed.add('command');
  else if (program !== undefined) {
    parsed.set('command', [program]);
    origins.set('command', PROGRAM_ORIGIN);
  } else if (command.length > 0) {
    // As in spawn-fcgi, a relative program on the command line is relative to the workers' directory (-d).
    parsed.set('command', command);
    origins.set('command', COMMAND_ORIGIN);
  }
  return { values: parsed, origin: (name) => origins.get(name) ?? { kind: 'flag', flag: longFlag(name) }, failed };
}
