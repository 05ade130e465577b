/** The README's options table is the one the option table generates (`npm run --silent docs:options`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { optionsMarkdownTable } from '../../src/config/options-doc.js';
import { ROOT } from '../helpers/supervisor.js';

test('README.md holds the generated options table, unchanged', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const generated = optionsMarkdownTable();
  assert.ok(readme.includes(`${generated}\n`), 'README.md options table is stale: replace it with `npm run --silent docs:options`');
});
