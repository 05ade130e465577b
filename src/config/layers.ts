/**
 * Where a pool's (or the supervisor's) values come from, in order of precedence: the command line, the pool's
 * own mapping in a file, the file's top level (defaults for every pool), then the table's defaults. Each layer
 * holds values already parsed, with relative paths made absolute against the layer's directory (the file's, or
 * the working directory for flags), and knows each value's origin for messages.
 */
import { isAbsolute, resolve } from 'node:path';
import { option, type OptionName, type OptionValue } from './options.js';
import type { Origin } from './problems.js';

export interface Layer {
  readonly values: ReadonlyMap<OptionName, unknown>;
  origin(name: OptionName): Origin;
  /** Given but invalid (already reported): not "missing" as well. */
  readonly failed?: ReadonlySet<OptionName>;
}

export interface Sourced<T> {
  readonly value: T;
  readonly origin: Origin;
}

/** A file's mapping (top level, a pool, an included file) as a layer. */
export function fileLayer(file: string, path: readonly PropertyKey[], values: Readonly<Record<string, unknown>>, names: readonly OptionName[], base: string): Layer {
  const map = new Map<OptionName, unknown>();
  for (const name of names) if (values[name] !== undefined) map.set(name, absolutize(name, values[name], base));
  return { values: map, origin: (name) => ({ kind: 'file', file, path: [...path, name] }) };
}

function relativeTo(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/** Relative paths in a value → absolute against `base`. Which values hold paths is the kind's business. */
export function absolutize(name: OptionName, value: unknown, base: string): unknown {
  const kind = option(name).kind;
  if (!kind.relative) return value;
  switch (kind.type) {
    case 'path':
      return relativeTo(base, value as string);
    case 'list':
      return (value as readonly string[]).map((path) => relativeTo(base, path));
    case 'listen': {
      const address = value as OptionValue<'listen'>;
      return address.kind === 'unix' ? { kind: 'unix', path: relativeTo(base, address.path) } : address;
    }
    case 'worker-log': {
      const target = value as OptionValue<'worker-log'>;
      return target.kind === 'file' ? { kind: 'file', path: relativeTo(base, target.path) } : target;
    }
    case 'argv': {
      // Only a program named with a slash is a path; a bare name is looked up in PATH.
      const [program = '', ...args] = value as readonly string[];
      return [program.includes('/') ? relativeTo(base, program) : program, ...args];
    }
    default:
      return value;
  }
}

/** The values of one pool or of the supervisor, looked up through its layers. */
export class Values {
  constructor(private readonly layers: readonly Layer[]) {}

  /** The value some layer gives, with its origin; undefined when none does. */
  given<N extends OptionName>(name: N): Sourced<OptionValue<N>> | undefined {
    for (const layer of this.layers) {
      if (layer.values.has(name)) return { value: layer.values.get(name) as OptionValue<N>, origin: layer.origin(name) };
    }
    return undefined;
  }

  /** The value given, else the table's default (undefined when it has none). */
  value<N extends OptionName>(name: N): OptionValue<N> | undefined {
    return this.given(name)?.value ?? (option(name).default as OptionValue<N> | undefined);
  }

  /** Whether a layer was given this option but could not parse it (a problem already says so). */
  failed(name: OptionName): boolean {
    return this.layers.some((layer) => layer.failed?.has(name));
  }

  /** Where a value came from, for a message; the default's when nothing gave it. */
  origin(name: OptionName): Origin {
    return this.given(name)?.origin ?? { kind: 'default' };
  }

  /** Every option with a `field` of this scope, as that field: the part of a config that needs no resolving. */
  fields(names: readonly OptionName[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of names) {
      const field = option(name).field;
      const value = this.value(name);
      if (field !== undefined && value !== undefined) out[field] = value;
    }
    return out;
  }
}
