/**
 * YAML and JSON config files read with the `yaml` package's Document API, which keeps every node's place in the
 * text, so that a problem found later (a bad value, an unknown user) names its line and column. cosmiconfig's own
 * loaders return plain objects and lose that.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError, type Position } from './problems.js';

export interface SourceText {
  readonly value: unknown;
  /** Where a key path (relative to `prefix`) sits in the text. */
  readonly locate: (path: readonly PropertyKey[], at: 'key' | 'value') => Position | undefined;
}

function locator(doc: Document, lines: LineCounter, prefix: readonly PropertyKey[]): SourceText['locate'] {
  const position = (node: Node | null | undefined): Position | undefined => {
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  const nodeAt = (path: readonly PropertyKey[]): unknown => (path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true));
  return (relative, at) => {
    const path = [...prefix, ...relative];
    if (at === 'key' && path.length > 0) {
      const parent = nodeAt(path.slice(0, -1));
      const last = path[path.length - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(last));
        if (pair && isScalar(pair.key)) return position(pair.key);
      }
      if (isSeq(parent) && typeof last === 'number') return position(parent.items[last] as Node | undefined);
    }
    const node = nodeAt(path);
    return position(node as Node | undefined);
  };
}

/** Every syntax error of the text, each at its line and column. */
function syntaxErrors(file: string, doc: Document): ConfigError | undefined {
  if (doc.errors.length === 0) return undefined;
  return new ConfigError(
    doc.errors.map((error) => {
      const at = error.linePos?.[0];
      const message = error.message.split('\n')[0] ?? error.message;
      return { file, ...(at ? { line: at.line, column: at.col } : {}), path: '', message: `not valid YAML: ${message.replace(/ at line \d+, column \d+:?$/, '')}`, kind: 'usage' as const };
    }),
  );
}

export function readYaml(file: string, text: string, prefix: readonly PropertyKey[] = []): SourceText {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const error = syntaxErrors(file, doc);
  if (error) throw error;
  // A bounded alias count: a file of nested aliases (a "billion laughs") cannot make the supervisor expand it.
  return { value: doc.toJS({ maxAliasCount: 100 }), locate: locator(doc, lines, prefix) };
}

/** JSON is checked by JSON.parse (YAML would accept more); positions come from the same text read as YAML. */
export function readJson(file: string, text: string, prefix: readonly PropertyKey[] = []): SourceText {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const offset = /at position (\d+)/.exec(message)?.[1];
    const position = offset !== undefined ? lineAndColumn(text, Number(offset)) : undefined;
    throw new ConfigError([{ file, ...(position ?? {}), path: '', message: `not valid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}`, kind: 'usage' }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const duplicate = doc.errors.find((error) => error.code === 'DUPLICATE_KEY');
  if (duplicate) throw syntaxErrors(file, doc) as ConfigError;
  // Text JSON.parse accepts but YAML does not (rare) keeps its value, without positions.
  return { value, locate: doc.errors.length === 0 ? locator(doc, lines, prefix) : () => undefined };
}

function lineAndColumn(text: string, offset: number): Position {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}
