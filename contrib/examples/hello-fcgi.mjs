#!/usr/bin/env node
// The README's example worker:  fcgi-spawn start -p 9000 -n 4 -- node contrib/examples/hello-fcgi.mjs
// fcgi-spawn binds the socket and hands it over as fd 0; each worker accepts on it.
import { serveFastCGI } from '../../dist/src/fastcgi/responder.js';

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
