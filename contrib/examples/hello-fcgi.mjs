#!/usr/bin/env node
// The README's example worker, four of them on port 9000:
//   fcgi-spawn start -p 9000 -F 4 -- node hello-fcgi.mjs              (as root: add -u nobody)
//   fcgi-spawn probe 127.0.0.1:9000 /
// fcgi-spawn binds the socket and hands it over as fd 0; each worker accepts on it.
//
// It imports fcgi-spawn's FastCGI responder by the package's name: that works in the fcgi-spawn
// checkout (a package may import itself) and, copied elsewhere, once fcgi-spawn is in a
// node_modules above it (`npm link fcgi-spawn` in that directory, after `npm link` in the checkout).
import { serveFastCGI } from 'fcgi-spawn/fastcgi';

const responder = serveFastCGI({
  handler: () => ({
    status: 200,
    headers: { 'Content-Type': 'text/plain' },
    body: `Hello from fcgi-spawn worker ${process.pid}\n`,
  }),
});

// fcgi-spawn stops workers with TERM: finish the requests in flight, then exit.
process.on('SIGTERM', () => {
  responder.close().then(() => process.exit(0));
});
