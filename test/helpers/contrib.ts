/**
 * The shipped contrib templates, rendered as a user would (every @NAME@ replaced), so that the file a test runs
 * is the file users copy. A placeholder the file does not document in its header, a documented one it does not
 * use, or a value for one it does not have is an error: the header stays true.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './supervisor.js';

const PLACEHOLDER = /@([A-Z][A-Z0-9_]*)@/g;

/** `#   @NAME@  what it is` lines of the header comment. */
function documented(text: string): Set<string> {
  return new Set([...text.matchAll(/^#\s+@([A-Z][A-Z0-9_]*)@\s+\S/gm)].map((match) => match[1] as string));
}

/** Placeholders in the lines that are not comments. */
function used(text: string): Set<string> {
  const code = text.split('\n').filter((line) => !/^\s*#/.test(line)).join('\n');
  return new Set([...code.matchAll(PLACEHOLDER)].map((match) => match[1] as string));
}

export function contribPath(relative: string): string {
  return join(ROOT, 'contrib', relative);
}

export function renderTemplate(relative: string, values: Readonly<Record<string, string>>): string {
  const text = readFileSync(contribPath(relative), 'utf8');
  const inDoc = [...documented(text)].sort();
  const inUse = [...used(text)].sort();
  if (inDoc.join() !== inUse.join()) throw new Error(`contrib/${relative}: documents @${inDoc.join('@, @')}@ but uses @${inUse.join('@, @')}@`);
  const given = Object.keys(values).sort();
  if (given.join() !== inUse.join()) throw new Error(`contrib/${relative}: takes @${inUse.join('@, @')}@, given ${given.join(', ')}`);
  return text.replace(PLACEHOLDER, (whole, name: string) => values[name] ?? whole);
}
