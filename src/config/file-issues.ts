/**
 * A file's validation issues (schema.ts) as problems at their line and column, in words that say what to write
 * instead: an unknown key names the closest known one; a supervisor key inside a pool says where it belongs.
 */
import { OPTION_NAMES, option, type OptionName } from './options.js';
import { pathText, type Problems } from './problems.js';
import type { Issue } from './schema.js';

function valueAt(contents: unknown, path: readonly PropertyKey[]): unknown {
  let value = contents;
  for (const part of path) value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[part] : undefined;
  return value;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

function isOption(key: string): key is OptionName {
  return (OPTION_NAMES as readonly string[]).includes(key);
}

/** Why `key` is not allowed at `path`, and what to write instead. */
function unknownKey(key: string, inPool: boolean): string {
  if (isOption(key)) {
    const spec = option(key);
    if (spec.file === false) return `unknown key '${key}': a file names the address with listen (listen: 127.0.0.1:9005, or a socket path)`;
    if (spec.scope === 'supervisor' && inPool) return `${key} is a supervisor key: set it at the top level of the file, not in a pool`;
  }
  if (key === 'pools' || key === 'include') return `${key} belongs at the top level of the config file`;
  const known = OPTION_NAMES.filter((name) => option(name).file !== false && !option(name).hidden && (!inPool || option(name).scope === 'pool'));
  const [closest] = [...known, ...(inPool ? ['name'] : ['pools', 'include'])]
    .map((name) => ({ name, score: distance(key, name) }))
    .filter((candidate) => candidate.score <= Math.max(2, Math.floor(key.length / 4)))
    .sort((a, b) => a.score - b.score);
  return `unknown key '${key}'${closest ? `: did you mean '${closest.name}'?` : ''}`;
}

export function reportIssues(problems: Problems, file: string, contents: unknown, issues: readonly Issue[], included = false): void {
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const inPool = issue.path[0] === 'pools' || included;
      for (const key of issue.keys ?? []) problems.add({ kind: 'file', file, path: [...issue.path, key] }, unknownKey(key, inPool), 'usage', 'key');
      continue;
    }
    const origin = { kind: 'file', file, path: issue.path } as const;
    if (issue.code === 'invalid_key') {
      problems.add(origin, `invalid key '${String(issue.path[issue.path.length - 1])}' in ${pathText(issue.path.slice(0, -1))}: expected ${issue.message}`, 'usage', 'key');
      continue;
    }
    const value = valueAt(contents, issue.path);
    const where = pathText(issue.path) || 'the file';
    if (value === undefined) problems.add(origin, `missing ${where}: expected ${issue.message}`);
    else if (issue.path.length === 0) problems.add(origin, `${where} holds ${JSON.stringify(value)}: expected ${issue.message}`);
    else problems.invalid(origin, value, issue.message);
  }
}
