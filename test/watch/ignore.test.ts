/** watch-ignore as a table: gitignore-style patterns, relative to the root that holds the path. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ignorePredicate } from '../../src/watch/ignore.js';

const directory = { isDirectory: () => true };
const file = { isDirectory: () => false };

const ROOTS = ['/srv/app', '/srv/app/vendor/lib'];

const CASES: ReadonlyArray<readonly [patterns: readonly string[], path: string, stats: typeof file | undefined, ignored: boolean]> = [
  // defaults
  [[], '/srv/app/.git', directory, true],
  [[], '/srv/app/.git/objects/ab/cd', file, true],
  [[], '/srv/app/sub/.git/HEAD', file, true],
  [[], '/srv/app/node_modules/x/index.js', file, true],
  [[], '/srv/app/var/app.log', file, true],
  [[], '/srv/app/index.php', file, false],
  [[], '/srv/app', directory, false],
  [[], '/elsewhere/app.log', file, false],
  // no slash: any depth; a slash: anchored at the root
  [['*.cache'], '/srv/app/a/b/page.cache', file, true],
  [['tmp'], '/srv/app/a/tmp/x', file, true],
  [['/tmp'], '/srv/app/a/tmp/x', file, false],
  [['/tmp'], '/srv/app/tmp/x', file, true],
  [['a/tmp'], '/srv/app/a/tmp', directory, true],
  [['a/tmp'], '/srv/app/b/a/tmp', directory, false],
  [['docs/**/*.md'], '/srv/app/docs/x/y/z.md', file, true],
  [['docs/**/*.md'], '/srv/app/docs/x/y/z.php', file, false],
  // trailing slash: directories only (a path below one is below a directory)
  [['cache/'], '/srv/app/cache', directory, true],
  [['cache/'], '/srv/app/cache', file, false],
  [['cache/'], '/srv/app/cache/page.html', file, true],
  // negation: the last match wins; nothing below an excluded directory comes back
  [['!keep.log'], '/srv/app/keep.log', file, false],
  [['!keep.log'], '/srv/app/other.log', file, true],
  [['build/', '!build/keep.js'], '/srv/app/build/keep.js', file, true],
  [['build/*', '!build/keep.js'], '/srv/app/build/keep.js', file, false],
  // comments, blanks, escapes
  [['# index.php', ''], '/srv/app/index.php', file, false],
  [['\\#weird'], '/srv/app/#weird', file, true],
  // the deepest root holds the path: anchored at vendor/lib
  [['/src'], '/srv/app/vendor/lib/src/x.php', file, true],
];

test('watch-ignore patterns, gitignore semantics', () => {
  for (const [patterns, path, stats, ignored] of CASES) {
    const predicate = ignorePredicate({ roots: ROOTS, patterns, files: [] });
    assert.equal(predicate(path, stats), ignored, `${JSON.stringify(patterns)} on ${path} (${stats === directory ? 'directory' : 'file'})`);
  }
});

test('log files and their rotations are ignored wherever they are', () => {
  const predicate = ignorePredicate({ roots: ROOTS, patterns: [], files: ['/srv/app/var/worker-output'] });
  assert.equal(predicate('/srv/app/var/worker-output', file), true);
  assert.equal(predicate('/srv/app/var/worker-output.3', file), true);
  assert.equal(predicate('/srv/app/var/worker-output.old', file), false);
  assert.equal(predicate('/srv/app/var/worker-outputs', file), false);
});
