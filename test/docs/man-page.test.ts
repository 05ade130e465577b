/**
 * fcgi-spawn(1) as `npm run build` leaves it: man renders it without a warning, in a UTF-8 and an ASCII locale,
 * it names every command and every start option the CLI has, and package.json installs it. The generator
 * reads the options table's columns from its header, so a table with more columns still renders.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { manPage } from '../../scripts/man/man-page.js';
import { ROOT, runCli } from '../helpers/supervisor.js';
import { findTool, needs } from '../helpers/tools.js';

const PAGE = join(ROOT, 'dist', 'man', 'fcgi-spawn.1');
const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-man-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `man --warnings -l PAGE`, as text; warnings are whatever groff writes on stderr. */
function render(page: string, locale: string): { status: number | null; text: string; warnings: string } {
  const result = spawnSync(findTool('man') as string, ['--warnings', '-l', page], {
    encoding: 'utf8',
    env: { ...process.env, LANG: locale, LC_ALL: locale, MANWIDTH: '80', MAN_KEEP_FORMATTING: '', PAGER: 'cat' },
    timeout: 20_000,
  });
  // Without a terminal man writes plain text, but overstrike (x\bx) may remain in some setups: drop it.
  return { status: result.status, text: result.stdout.replace(/.\x08/g, ''), warnings: result.stderr };
}

describe('fcgi-spawn(1)', needs('man', 'groff'), () => {
  it('renders without warnings in UTF-8 and ASCII', () => {
    for (const locale of ['C.UTF-8', 'C']) {
      const { status, text, warnings } = render(PAGE, locale);
      assert.equal(warnings, '', `${locale}: ${warnings}`);
      assert.equal(status, 0);
      for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'START OPTIONS', 'SIGNALS', 'EXIT STATUS']) {
        assert.match(text, new RegExp(`^${section}$`, 'm'), `${locale}: section ${section}`);
      }
    }
  });

  it('names every command and every start option the CLI has', async () => {
    const { text } = render(PAGE, 'C.UTF-8');
    const synopsis = text.slice(text.indexOf('SYNOPSIS'), text.indexOf('DESCRIPTION'));
    const help = await runCli(['--help']);
    const commands = [...help.stdout.slice(help.stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1] as string).filter((c) => c !== 'help');
    assert.ok(commands.length >= 10, commands.join(' '));
    for (const command of commands) assert.match(synopsis, new RegExp(`fcgi-spawn ${command}\\b`), `synopsis: ${command}`);
    const options = text.slice(text.indexOf('START OPTIONS'), text.indexOf('SIGNALS'));
    const startHelp = await runCli(['start', '--help']);
    const flags = [...startHelp.stdout.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1] as string).filter((flag) => flag !== '--help');
    for (const flag of flags) assert.ok(options.includes(flag), `START OPTIONS: ${flag}`);
  });

  it('is what package.json installs', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[]; files: string[] };
    assert.deepEqual(pkg.man, ['./dist/man/fcgi-spawn.1']);
    assert.ok(pkg.files.includes('dist/man'));
  });

  it('takes the options table as options-doc.ts renders it, whatever its columns', () => {
    const table = [
      '| option | file key | scope | meaning | default | as in spawn-fcgi |',
      '|---|---|---|---|---|---|',
      '| `-F, --workers <n>` | `workers` | pool | number of worker processes | 1 | yes |',
      '|  | `watch` | pool | paths whose change reloads the pool (repeatable) |  |  |',
    ].join('\n');
    const page = manPage({ readme: readFileSync(join(ROOT, 'README.md'), 'utf8'), optionsTable: table, version: '9.9.9', description: 'A test' });
    const file = join(dir, 'columns.1');
    writeFileSync(file, page);
    const { text, warnings } = render(file, 'C.UTF-8');
    assert.equal(warnings, '');
    const options = text.slice(text.indexOf('START OPTIONS'), text.indexOf('SIGNALS')).replace(/\s+/g, ' ');
    assert.match(options, /-F, --workers <n> number of worker processes \(file key: workers; scope: pool; default: 1; as in spawn-fcgi\)/);
    assert.match(options, /watch paths whose change reloads the pool \(repeatable\) \(scope: pool\)/);
  });
});
