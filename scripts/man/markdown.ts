/**
 * The little of Markdown the man page reads from the README: sections by heading, pipe tables, paragraphs and
 * bullet lists. Whatever the README's shape, a section the man page needs and cannot find fails the build.
 */

export interface Section {
  readonly heading: string;
  readonly level: number;
  /** The lines under the heading, up to the next heading of the same or a higher level. */
  readonly lines: readonly string[];
}

export interface Table {
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** A block of prose: a paragraph, or a list item (its continuation lines joined). */
export interface Block {
  readonly kind: 'paragraph' | 'item' | 'code' | 'table';
  readonly text: string;
}

export function sections(markdown: string): Section[] {
  const lines = markdown.split('\n');
  const found: Section[] = [];
  let fence = false;
  lines.forEach((line, index) => {
    if (line.startsWith('```')) fence = !fence;
    const heading = fence ? null : /^(#{1,6}) (.*)$/.exec(line);
    if (!heading) return;
    const level = (heading[1] as string).length;
    let end = index + 1;
    let inner = false;
    for (; end < lines.length; end += 1) {
      const next = lines[end] as string;
      if (next.startsWith('```')) inner = !inner;
      const other = inner ? null : /^(#{1,6}) /.exec(next);
      if (other && (other[1] as string).length <= level) break;
    }
    found.push({ heading: heading[2] as string, level, lines: lines.slice(index + 1, end) });
  });
  return found;
}

export function findSection(all: readonly Section[], pattern: RegExp): Section {
  const section = all.find((candidate) => pattern.test(candidate.heading));
  if (!section) throw new Error(`README.md has no section whose heading matches ${pattern}: the man page reads it`);
  return section;
}

/** Cells of one table row; `\|` is a pipe inside a cell. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replaceAll('\\|', '|'));
}

/** Every pipe table in lines, in order. */
export function tables(lines: readonly string[]): Table[] {
  const found: Table[] = [];
  for (let index = 0; index + 1 < lines.length; index += 1) {
    if (!(lines[index] as string).startsWith('|') || !/^\|[\s:|-]+\|$/.test((lines[index + 1] as string).trim())) continue;
    const rows: string[][] = [];
    let next = index + 2;
    for (; next < lines.length && (lines[next] as string).trim().startsWith('|'); next += 1) rows.push(cells(lines[next] as string));
    found.push({ header: cells(lines[index] as string), rows });
    index = next - 1;
  }
  return found;
}

export function findTable(lines: readonly string[], header: readonly string[], where: string): Table {
  const table = tables(lines).find((candidate) => header.every((name, i) => candidate.header[i] === name));
  if (!table) throw new Error(`README.md: no table headed | ${header.join(' | ')} | in ${where}: the man page reads it`);
  return table;
}

/** Paragraphs, list items, code blocks and tables, in order (tables and code kept whole, as raw text). */
export function blocks(lines: readonly string[]): Block[] {
  const found: Block[] = [];
  let current: { kind: Block['kind']; lines: string[] } | undefined;
  const flush = (): void => {
    if (current) found.push({ kind: current.kind, text: current.kind === 'code' || current.kind === 'table' ? current.lines.join('\n') : current.lines.join(' ') });
    current = undefined;
  };
  for (const line of lines) {
    if (current?.kind === 'code') {
      if (line.startsWith('```')) flush();
      else current.lines.push(line);
      continue;
    }
    if (line.startsWith('```')) {
      flush();
      current = { kind: 'code', lines: [] };
    } else if (line.trim() === '') {
      flush();
    } else if (line.startsWith('|')) {
      if (current?.kind !== 'table') flush();
      current ??= { kind: 'table', lines: [] };
      current.lines.push(line);
    } else if (/^- /.test(line)) {
      flush();
      current = { kind: 'item', lines: [line.slice(2).trim()] };
    } else {
      if (current?.kind === 'table') flush();
      current ??= { kind: 'paragraph', lines: [] };
      current.lines.push(line.trim());
    }
  }
  flush();
  return found;
}
