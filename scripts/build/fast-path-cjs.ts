/**
 * Writes dist/src-cjs/: a CommonJS copy of src/fast-path.ts and every module it can load (status, stop and probe),
 * made from tsc's ES module output (dist/src) by `npm run build`. bin/fcgi-spawn.js is CommonJS and requires it:
 * a run that never starts Node's ESM loader saves ~15 ms of a `status` on a stopped instance (measured,
 * bench:cli: 1.23× → 1.08× `node -e 0` in CPU time, the ESM loader and the builtins it loads being most of the
 * difference). Nothing here is hand-written: the source stays src/, checked by tsc.
 *
 * The modules are joined into a few files (chunks), one per place a module is loaded with import(): fast-path.js
 * (the parser), commands/status.js, commands/stop.js, commands/probe-command.js, and one for each module those
 * load on demand. Each chunk holds its entry and everything that entry imports statically, each module as a
 * function; chunk.ts is their loader. Measured (callgrind, `status -p PORT` of a stopped instance): one file per
 * module cost 50 M instructions above `node -e 0` of which Node's CommonJS loader (resolving, stat, reading,
 * compiling each of 17 files) was about 13 M. Each module keeps its path (its __filename) as if it were a file of
 * its own at the depth of dist/src, so paths counted from a module's own place (command-line.ts: our bin) mean the
 * same in both.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { createChunkLoader } from './chunk.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FROM = join(ROOT, 'dist', 'src');
const TO = join(ROOT, 'dist', 'src-cjs');
const ENTRY = 'fast-path.js';

interface Module {
  /** Path under dist/src, e.g. `commands/status.js`: the module's name in its chunk. */
  readonly id: string;
  /** Each relative specifier it imports → the id it names. */
  readonly specifiers: Readonly<Record<string, string>>;
  /** Ids imported statically (import … from, export … from, import '…'): in the same chunk. */
  readonly imports: readonly string[];
  /** Ids loaded with import('…'): each the entry of a chunk of its own. */
  readonly loads: readonly string[];
  readonly code: string;
}

function specifiersOf(code: string, patterns: readonly RegExp[]): string[] {
  return [...new Set(patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1] as string)))];
}

/** import.meta.url has no meaning in CommonJS: the module's own file URL is the same thing. */
function commonJs(file: string, code: string): string {
  const compilerOptions = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, removeComments: true };
  const output = ts.transpileModule(code, { fileName: file, compilerOptions }).outputText;
  // The ES module's source map describes dist/src's file, not this one.
  // createRequire takes a path as well: building a URL at load time (node:internal/url) cost `status` 1.6 M
  // instructions (callgrind).
  const replaced = output
    .replaceAll('createRequire)(import.meta.url)', 'createRequire)(__filename)')
    .replaceAll('import.meta.url', 'require("node:url").pathToFileURL(__filename).href').replace(/^\/\/# sourceMappingURL=.*$/m, '');
  if (/\bimport\.meta\b/.test(replaced)) throw new Error(`fast-path-cjs: ${relative(ROOT, file)} uses import.meta other than import.meta.url`);
  // chunk.ts gives node:module's createRequire only (its moduleShim).
  if (/\bnode_module_1\.(?!createRequire\))/.test(replaced) || /require\("node:module"\)(?<!const node_module_1 = require\("node:module"\))/.test(replaced)) {
    throw new Error(`fast-path-cjs: ${relative(ROOT, file)} uses node:module other than its createRequire`);
  }
  // One character outside ASCII makes V8 hold and scan the whole source as UTF-16: escaped, it stays one byte a
  // character. Without comments, what is left outside ASCII is in string, template and regular expression
  // literals (and identifiers), where \uXXXX means the same (String.raw, where it would not, is refused).
  if (replaced.includes('String.raw')) throw new Error(`fast-path-cjs: ${relative(ROOT, file)} uses String.raw`);
  return replaced.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function readModule(id: string): Module {
  const file = join(FROM, id);
  const code = readFileSync(file, 'utf8');
  const idOf = (specifier: string): string => {
    const target = resolve(dirname(file), specifier);
    if (!target.startsWith(`${FROM}/`)) throw new Error(`fast-path-cjs: ${id} imports ${specifier}, outside dist/src`);
    return relative(FROM, target);
  };
  const imports = specifiersOf(code, [/\bfrom\s+'(\.[^']+)'/g, /^import\s+'(\.[^']+)'/gm]);
  const loads = specifiersOf(code, [/\bimport\s*\(\s*'(\.[^']+)'\s*\)/g]);
  const specifiers = Object.fromEntries([...imports, ...loads].map((specifier) => [specifier, idOf(specifier)]));
  return { id, specifiers, imports: imports.map(idOf), loads: loads.map(idOf), code: commonJs(file, code) };
}

/** The entry and everything it imports statically, entry first. */
function closure(entry: string, modules: Map<string, Module>): string[] {
  const order: string[] = [];
  const visit = (id: string): void => {
    if (order.includes(id)) return;
    order.push(id);
    let module = modules.get(id);
    if (module === undefined) {
      module = readModule(id);
      modules.set(id, module);
    }
    module.imports.forEach(visit);
  };
  visit(entry);
  return order;
}

function definition(module: Module): string {
  return `define(${JSON.stringify(module.id)}, ${JSON.stringify(module.specifiers)}, function (exports, require, module, __filename) {\n${module.code}\n});\n`;
}

function main(): void {
  rmSync(TO, { recursive: true, force: true });
  const modules = new Map<string, Module>();
  const chunks = new Map<string, string[]>();
  const queue = [ENTRY];
  while (queue.length > 0) {
    const entry = queue.shift() as string;
    if (chunks.has(entry)) continue;
    // The entry chunk is always loaded first: its modules need not be anywhere else.
    const first = chunks.get(ENTRY) ?? [];
    const ids = closure(entry, modules).filter((id) => id === entry || !first.includes(id));
    chunks.set(entry, ids);
    for (const id of ids) queue.push(...(modules.get(id) as Module).loads);
  }
  const loader = createChunkLoader.toString();
  for (const [entry, ids] of chunks) {
    const body = ids.map((id) => definition(modules.get(id) as Module)).join('');
    // The entry chunk holds the loader; every other chunk is a function of the entry's `define`.
    const text =
      entry === ENTRY
        ? `'use strict';\n${loader}\nconst define = createChunkLoader(__dirname, require);\n${body}module.exports = define.load(${JSON.stringify(ENTRY)});\n`
        : `'use strict';\nmodule.exports = function (define) {\n${body}};\n`;
    const out = join(TO, entry);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, text);
  }
  // Under the package's "type": "module", .js files here are CommonJS only with their own package.json.
  writeFileSync(join(TO, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  process.stdout.write(`fast-path-cjs: ${modules.size} modules in ${chunks.size} chunks → ${relative(ROOT, TO)}\n`);
}

main();
