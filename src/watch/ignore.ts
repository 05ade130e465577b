/**
 * `watch-ignore`: gitignore-style patterns, matched with picomatch (chokidar 4 takes no globs: its
 * `ignored` is this predicate). Patterns are relative to the watch root that holds the path, as a
 * .gitignore's are to its directory:
 *   - `name` (no slash) matches that name at any depth: `.git`, `node_modules`, `*.log`;
 *   - `dir/name` or `/name` (a slash before the end) is anchored at the root;
 *   - a trailing `/` matches directories only; `!pattern` re-includes; `**` spans directories;
 *   - the last matching pattern wins, and nothing below an ignored directory can be re-included;
 *   - blank lines and `#` comments are skipped (`\#`, `\!` escape them).
 * Besides the patterns, a few exact files are always ignored: the instance's own log files and their
 * rotations (PATH.1 …), or every log line would reload the pool that watches their directory.
 */
import { basename, relative, sep } from 'node:path';
import picomatch from 'picomatch';

/** What every pool ignores before its own `watch-ignore` (which may re-include with `!`). */
export const DEFAULT_WATCH_IGNORE: readonly string[] = ['.git', 'node_modules', '*.log'];

interface Rule {
  readonly negate: boolean;
  readonly directoryOnly: boolean;
  readonly anchored: boolean;
  readonly matches: (path: string) => boolean;
}

export interface IgnoreOptions {
  /** Absolute watch roots; a path is matched relative to the deepest root that holds it. */
  readonly roots: readonly string[];
  readonly patterns: readonly string[];
  /** Absolute files ignored with their rotations (PATH.1, PATH.2, …). */
  readonly files: readonly string[];
}

/** Only what a predicate needs to know of a path's stats. */
export interface MaybeDirectory {
  isDirectory(): boolean;
}

export type IgnorePredicate = (path: string, stats?: MaybeDirectory) => boolean;

/** Parses one pattern; undefined for a blank line or a comment. Throws on a pattern picomatch refuses. */
export function parsePattern(text: string): Rule | undefined {
  let pattern = text.replace(/(?<!\\)\s+$/, '');
  if (pattern === '' || pattern.startsWith('#')) return undefined;
  const negate = pattern.startsWith('!');
  if (negate) pattern = pattern.slice(1);
  else if (pattern.startsWith('\\#') || pattern.startsWith('\\!')) pattern = pattern.slice(1);
  const directoryOnly = pattern.endsWith('/');
  if (directoryOnly) pattern = pattern.replace(/\/+$/, '');
  const anchored = pattern.includes('/');
  if (anchored) pattern = pattern.replace(/^\/+/, '');
  if (pattern === '') return undefined;
  const matches = picomatch(pattern, { dot: true });
  return { negate, directoryOnly, anchored, matches };
}

/** The predicate for chokidar's `ignored`: true for a path under a root that the rules exclude. */
export function ignorePredicate(options: IgnoreOptions): IgnorePredicate {
  const rules = [...DEFAULT_WATCH_IGNORE, ...options.patterns].map(parsePattern).filter((rule): rule is Rule => rule !== undefined);
  const files = options.files;
  const roots = [...options.roots].sort((a, b) => b.length - a.length);
  return (path, stats) => {
    if (files.some((file) => path === file || (path.startsWith(`${file}.`) && /^\d+$/.test(path.slice(file.length + 1))))) return true;
    const root = roots.find((candidate) => path.startsWith(`${candidate}${sep}`) || candidate === sep);
    if (root === undefined) return false;
    const parts = relative(root, path).split(sep);
    for (let length = 1; length <= parts.length; length += 1) {
      const last = length === parts.length;
      const excluded = decide(rules, parts.slice(0, length).join('/'), last ? stats?.isDirectory() ?? false : true);
      // gitignore: a file below an excluded directory cannot be re-included.
      if (excluded && !last) return true;
      if (last) return excluded;
    }
    return false;
  };
}

function decide(rules: readonly Rule[], path: string, isDirectory: boolean): boolean {
  let excluded = false;
  const name = basename(path);
  for (const rule of rules) {
    if (rule.directoryOnly && !isDirectory) continue;
    if (rule.matches(rule.anchored ? path : name)) excluded = !rule.negate;
  }
  return excluded;
}
