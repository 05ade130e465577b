/**
 * The types of fcgi-spawn/worker against the frameworks' own (@types/express, @types/koa, Fastify's bundled
 * types): checked by the build (tsc), never run. What listen() must take compiles; what it must refuse is marked
 * @ts-expect-error, so accepting it would fail the build.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { inheritedFd, listen, ready, type Listening, type ListenOptions } from '../../src/worker/index.js';

export async function typesOfListen(): Promise<readonly Listening[]> {
  const options: ListenOptions = { ready: false, signals: ['SIGTERM'], idleGraceMs: 500, fallback: { port: 3000 }, onDrained: () => undefined };
  const fastify = Fastify();
  const listening = [
    await listen(http.createServer()),
    await listen(https.createServer({})),
    await listen(net.createServer()),
    await listen((request: http.IncomingMessage, response: http.ServerResponse) => response.end()),
    await listen(express(), options),
    await listen(new Koa()),
    await listen(fastify, { onDrained: () => fastify.close() }),
  ];
  // @ts-expect-error: not a server, handler or app
  await listen({});
  // @ts-expect-error: a port is an option of the fallback, not a target
  await listen(3000);
  const told: boolean = ready();
  const fd: number | undefined = inheritedFd();
  void told;
  void fd;
  return listening;
}
