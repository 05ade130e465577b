/**
 * Preloaded with `node --import <this file's URL> …`: writes to $FCGI_BENCH_LOAD_LOG every module the
 * process loads — ES modules through a load hook (which runs on Node's hooks thread), CommonJS ones from
 * require.cache at exit (a require() inside a CommonJS package does not pass the ESM hooks on Node 20).
 * One line each: `esm URL` or `cjs PATH`.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const log = process.env.FCGI_BENCH_LOAD_LOG;
if (log) {
  register(new URL('./load-hooks.js', import.meta.url), { data: { log } });
  const cache = createRequire(import.meta.url).cache;
  process.once('exit', () => {
    appendFileSync(log, Object.keys(cache).map((path) => `cjs ${path}\n`).join(''));
  });
}
