/**
 * A pool's `rlimit-nofile`, `rlimit-core`, `nice` and `oom-score-adj` against what the supervisor may give: lowering
 * is allowed to anyone, going past the supervisor's own hard limit, niceness or OOM adjustment needs root (the
 * capability, read from /proc/self/status). Checked at every load, so `start` fails with one line and exit 4
 * instead of workers that die in their exec wrapper, and a reload that asks for too much keeps the running pools.
 */
import { ownLimits, type OwnLimit, type OwnLimits } from '../os/process-limits.js';
import { fileValue } from './file-values.js';
import type { Values } from './layers.js';
import type { OptionName } from './options.js';
import { label, quote, type Problems } from './problems.js';
import { boundValue } from './rlimit.js';

const KEYS = ['rlimit-nofile', 'rlimit-core', 'nice', 'oom-score-adj'] as const;

function shown(limit: number): string {
  return Number.isFinite(limit) ? String(limit) : 'unlimited';
}

function checkRlimit(values: Values, name: 'rlimit-nofile' | 'rlimit-core', own: OwnLimit, context: OwnLimits, problems: Problems): void {
  const given = values.given(name);
  if (!given) return;
  const where = `${label(given.origin)} ${quote(String(fileValue(name, given.value)))}`;
  const hard = boundValue(given.value.hard);
  if (name === 'rlimit-nofile' && hard > context.nrOpen) {
    problems.add(given.origin, `invalid ${where}: the kernel allows at most ${context.nrOpen} open files per process (fs.nr_open), unlimited included`);
  } else if (hard > own.hard && !context.capSysResource) {
    problems.add(given.origin, `${where} raises the hard limit above the supervisor's ${shown(own.hard)}: that needs root (CAP_SYS_RESOURCE); ask for at most ${shown(own.hard)}`, 'permission');
  }
}

function checkBelow(values: Values, name: 'nice' | 'oom-score-adj', floor: number, capability: string, allowed: boolean, problems: Problems): void {
  const given = values.given(name);
  if (!given || given.value >= floor || allowed) return;
  const what = name === 'nice' ? 'niceness' : 'oom_score_adj';
  problems.add(given.origin, `${label(given.origin)} ${quote(String(given.value))} is below the supervisor's ${what} ${floor}: that needs root (${capability}); ask for ${floor} or more`, 'permission');
}

/** Reports what cannot be applied; reads the supervisor's own limits only when a pool sets one of these keys. */
export function checkLimits(values: Values, problems: Problems, read: () => OwnLimits = ownLimits): void {
  if (!KEYS.some((name: OptionName) => values.given(name) !== undefined)) return;
  const own = read();
  checkRlimit(values, 'rlimit-nofile', own.nofile, own, problems);
  checkRlimit(values, 'rlimit-core', own.core, own, problems);
  // RLIMIT_NICE lets an unprivileged process go down to 20 - its soft value (0 by default: no lower at all).
  const niceFloor = Math.min(own.nice, 20 - own.niceLimit.soft);
  checkBelow(values, 'nice', niceFloor, 'CAP_SYS_NICE', own.capSysNice, problems);
  checkBelow(values, 'oom-score-adj', own.oomScoreAdj, 'CAP_SYS_RESOURCE', own.capSysResource, problems);
}
