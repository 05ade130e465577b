/**
 * The option table (options.ts) as zod schemas: one validator per option, used for a flag's value and, assembled,
 * for a whole file; and the JSON Schema editors use (`fcgi-spawn config schema`, schema.json).
 *
 * Why zod 4 (and not TypeBox): a zod schema both checks and converts (a transform turns `1.5s` into 1500 ms,
 * `0660` into 432, `127.0.0.1:9005` into an address), so a value is parsed once, where it is validated, and the
 * same definition gives the JSON Schema of what may be written (`z.toJSONSchema(…, { io: 'input' })`). TypeBox's
 * schemas are JSON Schema already, but converting needs Transform types and a separate Decode pass, and its error
 * messages are generic: here every message is the option's own "expected …". Loaded only by the commands that
 * read a configuration (start, config): never by status, stop or reload (bench:cli checks).
 */
import * as z from 'zod';
import { tcpFamily } from '../os/sockaddr.js';
import type { Kind } from './kinds.js';
import { parseListen } from './listen.js';
import { option, optionsOf, type OptionName } from './options.js';
import { fileValue } from './file-values.js';
import { parseRlimit, rlimitPattern } from './rlimit.js';
import { parseSize } from './size.js';
import type { WorkerLogTarget } from './types.js';
import {
  ENV_NAME,
  InvalidValueError,
  parseDuration,
  parseEnvName,
  parseInteger,
  parseOctalMode,
  parseSignal,
  parseText,
} from './values.js';

/** Runs a parser inside a transform: its "expected …" (or the kind's) becomes the issue's message. */
function guarded<T>(kind: Kind<unknown>, parse: () => T, ctx: z.RefinementCtx): T {
  try {
    return parse();
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: error instanceof InvalidValueError ? error.expected : kind.expected });
    return z.NEVER;
  }
}

const NO_NAME = '';

function stringOrList(kind: Kind<unknown>, each: (value: string) => string): z.ZodType {
  const error = { error: kind.expected };
  return z
    .union([z.string(error), z.array(z.string(error), error)], error)
    .transform((value, ctx) => guarded(kind, () => (typeof value === 'string' ? [value] : value).map(each), ctx));
}

/** What a file (or a flag, as a string) may give for this kind, and what it becomes. */
function inputOf(kind: Kind<unknown>, meta: Record<string, unknown>): z.ZodType {
  const error = { error: kind.expected };
  const then = <I>(input: z.ZodType<I>, parse: (value: I) => unknown): z.ZodType =>
    input.meta(meta).transform((value, ctx) => guarded(kind, () => parse(value), ctx));
  switch (kind.type) {
    case 'integer':
      return then(z.union([z.int(error).min(kind.min ?? 0, error).max(kind.max ?? Number.MAX_SAFE_INTEGER, error), z.string(error).regex(/^-?\d+$/, error)], error), (v) =>
        parseInteger(NO_NAME, String(v), kind.min ?? 0, kind.max ?? Number.MAX_SAFE_INTEGER),
      );
    case 'duration':
      return then(z.union([z.number(error).min(0, error), z.string(error).regex(/^\d+(\.\d+)?(ms|s)?$/, error)], error), (v) => parseDuration(NO_NAME, String(v), kind.range));
    case 'mode': {
      // YAML 1.2 reads an unquoted 0660 as the decimal number 660: a number is refused, never guessed at.
      const quoted = { error: (issue: { input?: unknown }) => (typeof issue.input === 'number' ? `${kind.expected}, quoted: YAML reads 0660 as the number 660` : kind.expected) };
      return then(z.string(quoted).regex(/^0?[0-7]{1,4}$/, error), (v) => parseOctalMode(NO_NAME, v, kind.max));
    }
    case 'size':
      return then(z.union([z.int(error).min(1, error), z.string(error)], error), (v) => parseSize(String(v)));
    case 'signal':
      return then(z.string(error), (v) => (kind.choices?.includes(v) ? v : parseSignal(NO_NAME, v)));
    case 'choice': {
      const choices = kind.choices ?? [];
      const written = [...new Set([...choices, ...choices.map(String)])] as [string | number, ...(string | number)[]];
      return then(z.literal(written, error), (v) => choices.find((c) => String(c) === String(v)));
    }
    case 'host':
      return then(z.string(error), (v) => (tcpFamily(v), v));
    case 'text':
    case 'path':
      return then(z.string(error).min(1, error), (v) => parseText(NO_NAME, v, kind.expected));
    case 'boolean':
      return z.boolean(error).meta(meta);
    case 'list':
      return stringOrList(kind, (v) => parseText(NO_NAME, v, kind.expected)).meta(meta);
    case 'env-names':
      return stringOrList(kind, (v) => parseEnvName(v, NO_NAME)).meta(meta);
    case 'env':
      return then(z.record(z.string().regex(ENV_NAME, { error: 'a variable name made of letters, digits and _' }), z.union([z.string(), z.number(), z.boolean()], { error: 'a string, number or boolean' }), error), (map) =>
        Object.fromEntries(Object.entries(map).map(([key, value]) => [key, String(value)])),
      );
    case 'argv':
      return then(z.array(z.string(error).refine((arg) => !arg.includes('\0'), error), error).min(1, error).refine((list) => list[0] !== '', error), (v) => v);
    case 'listen':
      return then(z.string(error), (v) => parseListen(NO_NAME, v));
    case 'rlimit':
      return then(z.union([z.int(error).min(0, error), z.string(error).regex(rlimitPattern(kind.unit ?? 'count'), error)], error), (v) => {
        const limit = parseRlimit(String(v), kind.unit ?? 'count');
        if (limit === undefined) throw new InvalidValueError(NO_NAME, String(v), kind.expected);
        return limit;
      });
    case 'worker-log':
      return then(z.string(error).min(1, error), (v): WorkerLogTarget => (v === 'inherit' || v === 'none' ? { kind: v } : { kind: 'file', path: parseText(NO_NAME, v) }));
  }
}

/** The JSON Schema's words for an option: its help, and its default as a file writes it. */
function metaOf(name: OptionName): Record<string, unknown> {
  const spec = option(name);
  if (spec.default === undefined) return { description: spec.defaultText ? `${spec.help} (default: ${spec.defaultText})` : spec.help };
  return { description: spec.help, default: fileValue(name, spec.default) };
}

const schemas = new Map<OptionName, z.ZodType>();

export function optionSchema(name: OptionName): z.ZodType {
  let schema = schemas.get(name);
  if (schema === undefined) {
    schema = inputOf(option(name).kind, metaOf(name));
    schemas.set(name, schema);
  }
  return schema;
}

export type FlagParse = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly expected: string };

/** One option's value from the command line (a string, a switch's true, a repeated flag's list). */
export function parseOptionValue(name: OptionName, value: unknown): FlagParse {
  const result = optionSchema(name).safeParse(value);
  return result.success ? { ok: true, value: result.data } : { ok: false, expected: result.error.issues[0]?.message ?? option(name).kind.expected };
}

export const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const POOL_NAME_EXPECTED = "a pool name: a letter or digit, then letters, digits, '.', '_', '@' or '-', at most 64";

function shape(names: readonly OptionName[]): Record<string, z.ZodType> {
  return Object.fromEntries(names.map((name) => [name, optionSchema(name).optional()]));
}

function fileSchemas(): { readonly file: z.ZodType; readonly included: z.ZodType } {
  const poolKeys = shape(optionsOf('pool', { file: true }));
  const poolName = z.string({ error: POOL_NAME_EXPECTED }).regex(POOL_NAME, { error: POOL_NAME_EXPECTED }).meta({ description: 'the pool’s name, unique in the instance' });
  const pool = z.strictObject({ name: poolName, ...poolKeys }, { error: 'a mapping of pool keys with a name' });
  const pools = z.array(pool, { error: 'a list of pools' }).meta({ description: 'the pools; pool keys at the top level are defaults for every pool' });
  const include = z
    .union([z.string(), z.array(z.string())], { error: 'a directory, or a list of them' })
    .meta({ description: 'directories whose *.yaml, *.yml and *.json files (in name order) are more pools' });
  const file = z
    .strictObject({ $schema: z.string().optional(), ...shape(optionsOf('supervisor', { file: true })), include: include.optional(), pools: pools.optional(), ...poolKeys }, { error: 'a mapping of options' })
    .meta({ title: 'fcgi-spawn configuration', description: 'Supervisor keys, pool keys as defaults for every pool, and pools. Keys are the long flags of `fcgi-spawn start`.' });
  const included = z.strictObject({ $schema: z.string().optional(), name: poolName.optional(), pools: pools.optional(), ...poolKeys }, { error: 'a mapping of pool keys, or pools:' });
  return { file, included };
}

let built: ReturnType<typeof fileSchemas> | undefined;

export interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
}

export type FileParse = { readonly ok: true; readonly value: Readonly<Record<string, unknown>> } | { readonly ok: false; readonly issues: readonly Issue[] };

/** A config file's contents (`included`: a file of an include directory) checked and converted. */
export function parseFile(contents: unknown, which: 'file' | 'included' = 'file'): FileParse {
  built ??= fileSchemas();
  const result = built[which].safeParse(contents ?? {});
  if (result.success) return { ok: true, value: result.data as Record<string, unknown> };
  return { ok: false, issues: result.error.issues.map(flatten) };
}

/** A record key's issue carries the key's own issue inside; say that one. */
function flatten(issue: z.core.$ZodIssue): Issue {
  const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
  return { code: issue.code, path: issue.path, message: inner ?? issue.message, ...(issue.code === 'unrecognized_keys' ? { keys: issue.keys } : {}) };
}

/** The JSON Schema of a config file, for editors (`# yaml-language-server: $schema=…`). */
export function configJsonSchema(): Record<string, unknown> {
  built ??= fileSchemas();
  return z.toJSONSchema(built.file, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
}
