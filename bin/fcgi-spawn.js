#!/usr/bin/env node
'use strict';
// CommonJS (bin/package.json), so that status, stop and probe with a plain command line run without Node's ESM
// loader: dist/src-cjs/ is a CommonJS copy of src/fast-path.ts and what it loads (npm run build writes it). Every
// other command line goes to cli.ts, an ES module. A tree built by tsc alone has no copy: then all go to cli.ts.
const argv = process.argv.slice(2);
let fastPath;
try {
  fastPath = require('../dist/src-cjs/fast-path.js');
} catch (error) {
  if (!error || error.code !== 'MODULE_NOT_FOUND') throw error;
}
const code = (fastPath && fastPath.runFastPath(argv)) || import('../dist/src/cli.js').then(({ main }) => main(argv));

// Exit explicitly: a worker's grandchild may still hold a pipe that would keep the loop alive.
code.then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`fcgi-spawn: internal error: ${error && error.stack ? error.stack : error}\n`);
    process.exit(70);
  },
);
