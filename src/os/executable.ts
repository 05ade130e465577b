/**
 * Resolve a worker program the way execvp() will, before anything runs, so that a typo is an
 * error at `start` naming the paths tried, not a crash loop.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export type Resolution =
  | { readonly found: true; readonly path: string }
  | { readonly found: false; readonly reason: 'not-found' | 'not-executable'; readonly tried: readonly string[] };

function candidate(path: string): 'ok' | 'missing' | 'not-executable' {
  try {
    if (!statSync(path).isFile()) return 'not-executable';
  } catch {
    return 'missing';
  }
  try {
    accessSync(path, constants.X_OK);
    return 'ok';
  } catch {
    return 'not-executable';
  }
}

export function resolveProgram(program: string, cwd: string, searchPath: string | undefined): Resolution {
  const direct = program.includes('/');
  // A PATH often names a directory twice (profile scripts prepend theirs again): try, and report, each once, in order.
  const paths = direct
    ? [isAbsolute(program) ? program : resolve(cwd, program)]
    : [...new Set((searchPath ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).filter(Boolean).map((dir) => join(resolve(cwd, dir), program)))];
  let notExecutable = false;
  for (const path of paths) {
    const result = candidate(path);
    if (result === 'ok') return { found: true, path };
    if (result === 'not-executable') notExecutable = true;
  }
  return { found: false, reason: notExecutable ? 'not-executable' : 'not-found', tried: paths };
}
