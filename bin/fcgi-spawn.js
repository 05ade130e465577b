#!/usr/bin/env node
import { main } from '../dist/src/cli.js';

// Exit explicitly: a worker's grandchild may still hold a pipe that would keep the loop alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`fcgi-spawn: internal error: ${error && error.stack ? error.stack : error}\n`);
    process.exit(70);
  },
);
