/**
 * The process manager's keys of one pool, checked together (each alone is checked by its kind): which apply to
 * which `pm`, the spare counts against each other and against `workers`, and the defaults that follow from other
 * keys (start-workers from the spares, the jitter from max-lifetime, retire-signal from the program). Every
 * problem names the key and the value; a key that does not apply to the pool's pm is refused, never ignored.
 */
import { basename } from 'node:path';
import { fileValue } from './file-values.js';
import type { Values } from './layers.js';
import type { OptionName } from './options.js';
import { label, quote, type Problems } from './problems.js';
import type { PoolConfig } from './types.js';

type ManagerFields = Pick<PoolConfig, 'startWorkers' | 'minSpare' | 'maxSpare' | 'retireSignal' | 'maxLifetimeJitterMs'>;

/** Programs that answer 502 to the request in flight on TERM and on USR1 (measured, DESIGN.md "Traps"). */
const CUTS_ON_EVERY_SIGNAL = new Set(['fcgiwrap']);

const ONLY_FOR: ReadonlyArray<readonly [OptionName, 'dynamic' | 'ondemand']> = [
  ['start-workers', 'dynamic'],
  ['min-spare', 'dynamic'],
  ['max-spare', 'dynamic'],
  ['idle-timeout', 'ondemand'],
];

/** The retire signal a program gets unless told: `generation` for those that cut a request on every signal. */
export function defaultRetireSignal(program: string, stopSignal: NodeJS.Signals): NodeJS.Signals | 'generation' {
  return CUTS_ON_EVERY_SIGNAL.has(basename(program)) ? 'generation' : stopSignal;
}

export function resolveProcessManager(values: Values, program: string | undefined, problems: Problems): ManagerFields {
  const pm = values.value('pm') ?? 'static';
  for (const [name, applies] of ONLY_FOR) {
    const given = values.given(name);
    if (given && pm !== applies) {
      problems.add(given.origin, `${label(given.origin)} ${quote(fileValue(name, given.value))} applies to pm ${applies}, not to pm ${pm}`, 'usage', 'key');
    }
  }
  const fields: { -readonly [K in keyof ManagerFields]: ManagerFields[K] } = {};
  const lifetime = values.value('max-lifetime');
  const jitter = values.given('max-lifetime-jitter');
  if (jitter && lifetime === undefined) problems.add(jitter.origin, `${label(jitter.origin)} ${quote(fileValue('max-lifetime-jitter', jitter.value))} applies with max-lifetime`, 'usage', 'key');
  if (lifetime !== undefined) fields.maxLifetimeJitterMs = jitter?.value ?? Math.round(lifetime / 10);
  const stopSignal = values.value('stop-signal') ?? 'SIGTERM';
  fields.retireSignal = values.value('retire-signal') ?? defaultRetireSignal(program ?? '', stopSignal);
  if (pm === 'dynamic') Object.assign(fields, spares(values, problems));
  return fields;
}

/** php-fpm's rules: 0 ≤ min-spare ≤ start-workers ≤ max-spare ≤ workers (php-fpm refuses the same). */
function spares(values: Values, problems: Problems): ManagerFields {
  const workers = values.value('workers') ?? 1;
  const minSpare = values.value('min-spare') ?? Math.min(1, workers);
  const maxSpare = values.value('max-spare') ?? Math.max(minSpare, Math.min(3, workers));
  const startWorkers = values.value('start-workers') ?? minSpare + Math.floor((maxSpare - minSpare) / 2);
  const workersLabel = label(values.origin('workers'), 'workers');
  let failed = false;
  // One problem at a time: a wrong min-spare would otherwise also make the default start-workers wrong.
  const check = (name: OptionName, value: number, ok: boolean, expected: string): void => {
    if (ok || failed) return;
    failed = true;
    const origin = values.given(name)?.origin ?? values.origin('workers');
    const given = values.given(name) !== undefined;
    problems.add(origin, given ? `invalid ${label(origin)} ${quote(value)} for pm dynamic: expected ${expected}` : `pm dynamic: the default ${name} ${value} does not fit: ${expected}; set ${name}`);
  };
  check('max-spare', maxSpare, maxSpare <= workers, `at most ${workersLabel} (${workers})`);
  check('min-spare', minSpare, minSpare <= maxSpare, `at most max-spare (${maxSpare})`);
  check('start-workers', startWorkers, startWorkers >= minSpare && startWorkers <= maxSpare, `from min-spare (${minSpare}) to max-spare (${maxSpare})`);
  return { minSpare, maxSpare, startWorkers };
}
