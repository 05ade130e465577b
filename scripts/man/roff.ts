/** Writing man(7) source: escaping, inline Markdown (code, bold, links) as fonts, and the few macros we use. */

/** Characters groff names, for the README's typography; anything else outside ASCII becomes \[uXXXX]. */
const NAMED: Readonly<Record<string, string>> = {
  '…': '\\&...',
  '—': '\\(em',
  '–': '\\(en',
  '×': '\\(mu',
  '→': '\\(->',
  '≥': '\\(>=',
  '≤': '\\(<=',
  '’': "'",
  '“': '"',
  '”': '"',
};

function characters(text: string): string {
  return text.replace(/[^\x00-\x7f]/gu, (c) => NAMED[c] ?? `\\[u${(c.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** Plain text: backslashes escaped, non-ASCII named. */
export function escape(text: string): string {
  return characters(text.replaceAll('\\', '\\e'));
}

/** Code: bold, and its hyphens real minus signs, so that options copied from the page work. */
function code(text: string): string {
  return `\\fB${escape(text).replaceAll('-', '\\-')}\\fR`;
}

/** One line of Markdown prose as roff text: `code`, **bold**, [links](…). */
export function inline(markdown: string): string {
  const parts = markdown.split(/(`[^`]*`)/);
  return parts
    .map((part) => {
      if (part.startsWith('`') && part.endsWith('`') && part.length >= 2) return code(part.slice(1, -1));
      const linked = part.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1');
      return escape(linked).replace(/\*\*([^*]+)\*\*/g, '\\fB$1\\fR');
    })
    .join('');
}

/** Text lines that would start with a control character (. or ') are protected by \&. */
export function textLine(text: string): string {
  return /^[.']/.test(text) ? `\\&${text}` : text;
}

export function paragraph(markdown: string): string {
  return `.PP\n${textLine(inline(markdown))}`;
}

export function bullet(markdown: string): string {
  return `.IP \\(bu 2\n${textLine(inline(markdown))}`;
}

/** A tagged paragraph: the tag on its own line, the text indented below. */
export function tagged(tag: string, text: string): string {
  return `.TP\n${textLine(tag)}\n${textLine(text)}`;
}

/** Lines shown as typed (examples). */
export function example(lines: string): string {
  const body = lines.split('\n').map((line) => textLine(escape(line).replaceAll('-', '\\-')));
  return `.PP\n.RS 4\n.nf\n${body.join('\n')}\n.fi\n.RE`;
}

export function heading(text: string): string {
  return `.SH ${escape(text.toUpperCase())}`;
}

export function subheading(text: string): string {
  return `.SS ${inline(text)}`;
}
