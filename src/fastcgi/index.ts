/** The FastCGI pieces, published as `fcgi-spawn/fastcgi`: the wire format, a one-shot client, a responder for Node workers. */
export * from './protocol.js';
export * from './cgi.js';
export * from './client.js';
export * from './responder.js';
