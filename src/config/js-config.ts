/**
 * A JS config file (.js, .mjs, .cjs) runs code, so it never runs inside the supervisor: each load evaluates it in
 * a short-lived Node process that prints the exported configuration as JSON and exits. No module cache survives
 * between loads (a reload sees the file as it is now), nothing it starts or leaks outlives the child, and a file
 * that hangs is killed. The file itself was checked like any config file (trust.ts) before this runs; what it
 * imports is its own business.
 */
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { ConfigError } from './problems.js';

const TIMEOUT_MS = 10_000;
const MAX_OUTPUT = 4 * 1024 * 1024;

// argv[1] is the file. A function export is called (and awaited): `export default async () => ({ … })`.
const EVALUATE = `
const { pathToFileURL } = await import('node:url');
const exported = await import(pathToFileURL(process.argv[1]).href);
if (!('default' in exported)) {
  process.stderr.write('it has no default export: write export default { ... } (or module.exports = { ... })\\n');
  process.exit(3);
}
let value = exported.default;
if (typeof value === 'function') value = await value();
process.stdout.write(JSON.stringify(value === undefined ? null : value));
`;

/** Node's report of an uncaught error: the source line, a caret, `Error: …`, the stack, `Node.js v20…`. */
function errorLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('at ') && !/^Node\.js v\d/.test(line));
  return lines.find((line) => /^[\w.]*(Error|Exception)\b/.test(line)) ?? lines.pop() ?? '';
}

/** The file's default export as plain data (what JSON can carry). */
export function evaluateJsConfig(file: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fail = (message: string): void => reject(new ConfigError([{ file, path: '', message, kind: 'usage' }]));
    execFile(
      process.execPath,
      ['--input-type=module', '-e', EVALUATE, file],
      { cwd: dirname(file), env, timeout: TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const timedOut = error.killed === true && error.signal === 'SIGKILL';
          if (timedOut) return fail(`unable to evaluate the JS config: it did not finish within ${TIMEOUT_MS / 1000}s`);
          return fail(`unable to evaluate the JS config: ${errorLine(stderr) || error.message.split('\n')[0]}`);
        }
        try {
          resolve(JSON.parse(stdout) as unknown);
        } catch {
          fail('unable to evaluate the JS config: its export is not plain data (objects, lists, strings, numbers, booleans)');
        }
      },
    );
  });
}
