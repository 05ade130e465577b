/**
 * The module loader of dist/src-cjs/fast-path.js (fast-path-cjs.ts writes createChunkLoader's source text there:
 * it uses nothing outside itself). Each module is a function registered under its id
 * (its path under dist/src); it runs once, when first required, as Node would run its file. An id no chunk
 * loaded so far is the entry of a chunk of its own, at dist/src-cjs/ID. The same module in two chunks (a
 * static import of both) is defined once: the first definition wins, so there is one CliError class, one cache.
 * fast-path-cjs.ts checks that nothing but createRequire is taken from node:module (see moduleShim).
 */
export interface ChunkModule {
  exports: unknown;
}

export type ModuleFunction = (exports: unknown, require: (specifier: string) => unknown, module: ChunkModule, filename: string) => void;

export interface ChunkDefine {
  (id: string, specifiers: Readonly<Record<string, string>>, run: ModuleFunction): void;
  load(id: string): unknown;
}

export function createChunkLoader(base: string, nodeRequire: (specifier: string) => unknown): ChunkDefine {
  const defined = new Map<string, { readonly specifiers: Readonly<Record<string, string>>; readonly run: ModuleFunction }>();
  const loaded = new Map<string, ChunkModule>();
  // Our modules take only createRequire(import.meta.url) from node:module, to load a builtin when it is used.
  // Requiring node:module itself costs 8.5 M instructions (callgrind, 96.4 M against 87.9 M for an empty
  // script): a builtin comes from our own require instead, anything else from Node's createRequire.
  const moduleShim = {
    createRequire:
      (from: string) =>
      (specifier: string): unknown =>
        specifier.startsWith('node:') ? nodeRequire(specifier) : (nodeRequire('node:module') as typeof import('node:module')).createRequire(from)(specifier),
  };
  const load = (id: string): unknown => {
    const done = loaded.get(id);
    if (done !== undefined) return done.exports;
    if (!defined.has(id)) (nodeRequire(`./${id}`) as (define: ChunkDefine) => void)(define);
    const definition = defined.get(id);
    if (definition === undefined) throw new Error(`fast-path: chunk ./${id} does not define ${id}`);
    const module: ChunkModule = { exports: {} };
    loaded.set(id, module);
    const { specifiers } = definition;
    const required = (specifier: string): unknown => {
      const target = specifiers[specifier];
      if (target !== undefined) return load(target);
      return specifier === 'node:module' ? moduleShim : nodeRequire(specifier);
    };
    definition.run.call(module.exports, module.exports, required, module, `${base}/${id}`);
    return module.exports;
  };
  const define = Object.assign(
    (id: string, specifiers: Readonly<Record<string, string>>, run: ModuleFunction): void => {
      if (!defined.has(id)) defined.set(id, { specifiers, run });
    },
    { load },
  );
  return define;
}
