/**
 * Writes dist/src-cjs/: a CommonJS copy of src/fast-path.ts and every module it can load (status, stop and probe),
 * made from tsc's ES module output (dist/src) by `npm run build`. bin/fcgi-spawn.js is CommonJS and requires it:
 * a run that never starts Node's ESM loader saves ~15 ms of a `status` on a stopped instance (measured,
 * bench:cli: 1.23× → 1.08× `node -e 0` in CPU time, the ESM loader and the builtins it loads being most of the
 * difference). The copy sits at the depth of dist/src, so paths counted from a module's own place (command-line.ts:
 * our bin) mean the same in both. Nothing here is hand-written: the source stays src/, checked by tsc.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FROM = join(ROOT, 'dist', 'src');
const TO = join(ROOT, 'dist', 'src-cjs');
const ENTRY = join(FROM, 'fast-path.js');

/** Relative specifiers a module loads: static imports, re-exports and import() with a literal. */
function dependencies(code: string): string[] {
  const found = new Set<string>();
  for (const pattern of [/\bfrom\s+'(\.[^']+)'/g, /\bimport\s*\(\s*'(\.[^']+)'\s*\)/g, /^import\s+'(\.[^']+)'/gm]) {
    for (const match of code.matchAll(pattern)) found.add(match[1] as string);
  }
  return [...found];
}

/** import.meta.url has no meaning in CommonJS: the module's own file URL is the same thing. */
function commonJs(file: string, code: string): string {
  const output = ts.transpileModule(code, { fileName: file, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
  // The ES module's source map describes dist/src's file, not this one.
  const replaced = output.replaceAll('import.meta.url', 'require("node:url").pathToFileURL(__filename).href').replace(/^\/\/# sourceMappingURL=.*$/m, '');
  if (/\bimport\.meta\b/.test(replaced)) throw new Error(`fast-path-cjs: ${relative(ROOT, file)} uses import.meta other than import.meta.url`);
  return replaced;
}

function main(): void {
  rmSync(TO, { recursive: true, force: true });
  const seen = new Set<string>();
  const queue = [ENTRY];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    for (const specifier of dependencies(code)) {
      const target = resolve(dirname(file), specifier);
      if (!target.startsWith(`${FROM}/`)) throw new Error(`fast-path-cjs: ${relative(ROOT, file)} imports ${specifier}, outside dist/src`);
      queue.push(target);
    }
    const out = join(TO, relative(FROM, file));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, commonJs(file, code));
  }
  // Under the package's "type": "module", .js files here are CommonJS only with their own package.json.
  writeFileSync(join(TO, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  process.stdout.write(`fast-path-cjs: ${seen.size} modules → ${relative(ROOT, TO)}\n`);
}

main();
