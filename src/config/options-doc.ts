/**
 * The README's options table, from the option table (`npm run --silent docs:options`): the flag, the key a config
 * file uses, the scope, what it does, its default, and whether spawn-fcgi means the same by it. And the table of
 * spawn-fcgi's options and their fate here (`npm run --silent docs:spawn-fcgi`).
 */
import { fileValue } from './file-values.js';
import { flagsOf, OPTION_NAMES, option } from './options.js';
import { SPAWN_FCGI_OPTIONS } from './spawn-fcgi.js';

/** A `|` ends a table cell even inside backticks unless escaped (GitHub Flavored Markdown, tables). */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

export function optionsMarkdownTable(): string {
  const rows = OPTION_NAMES.filter((name) => !option(name).hidden).map((name) => {
    const spec = option(name);
    const flags = flagsOf(name);
    const flag = flags !== undefined ? `\`${cell(flags)}\`` : name === 'command' ? 'after `--`' : '';
    const key = spec.file === false ? '' : `\`${name}\``;
    const repeat = spec.kind.repeatable ? ' (repeatable)' : '';
    const fallback = spec.defaultText ?? (spec.default !== undefined && spec.kind.type !== 'boolean' && !Array.isArray(spec.default) ? String(fileValue(name, spec.default)) : '');
    return `| ${flag} | ${key} | ${spec.scope} | ${cell(spec.help)}${repeat} | ${cell(fallback)} | ${spec.spawnFcgi ? 'yes' : ''} |`;
  });
  return ['| option | file key | scope | meaning | default | as in spawn-fcgi |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

export function spawnFcgiMarkdownTable(): string {
  const rows = SPAWN_FCGI_OPTIONS.map((spawn) => `| \`${cell(spawn.flag)}\` | ${cell(spawn.meaning)} | ${cell(spawn.here)} |`);
  return ['| spawn-fcgi | what it does there | in fcgi-spawn |', '|---|---|---|', ...rows].join('\n');
}
