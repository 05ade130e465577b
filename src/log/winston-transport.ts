/**
 * A winston transport that writes each formatted entry as one line into a LineSink (a rotating file or a
 * stream). It never waits for the sink: the supervisor must not block on its own log. The sink bounds the memory
 * instead (a full queue drops and counts lines: sink.ts).
 */
import winston from 'winston';
// Types only: winston-transport is winston's own base class package (a dependency of winston).
import type TransportStream from 'winston-transport';
import type { LineSink } from './sink.js';

const MESSAGE = Symbol.for('message');

// winston exports the base class at run time as `Transport`, while its index.d.ts declares it as `transport`
// (winston 3.19: lib/winston.js line 67 versus index.d.ts line 20).
const Transport = (winston as unknown as { readonly Transport: typeof TransportStream }).Transport;

export class SinkTransport extends Transport {
  constructor(private readonly sink: LineSink) {
    super();
  }

  override log(info: Readonly<Record<string | symbol, unknown>>, next: () => void): void {
    const message = info[MESSAGE];
    this.sink.write(`${typeof message === 'string' ? message : String(info['message'])}\n`);
    next();
  }
}
