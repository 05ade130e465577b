/**
 * A request loop: a few clients each sending GETs one after another, a new connection per request
 * (as nginx does towards an upstream by default), until stopped; every failure is kept with its cause.
 */
import { request } from 'node:http';

export interface LoopResult {
  readonly ok: number;
  readonly failures: readonly string[];
}

export interface RequestLoop {
  /** Requests answered 200 so far. */
  readonly ok: number;
  stop(): Promise<LoopResult>;
}

function get(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { Connection: 'close' }, timeout: timeoutMs }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode ?? 0));
      response.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

export function startRequestLoop(url: string, clients = 4, timeoutMs = 10_000): RequestLoop {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const client = async (): Promise<void> => {
    while (running) {
      try {
        const status = await get(url, timeoutMs);
        if (status === 200) ok += 1;
        else failures.push(`HTTP ${status}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const clientsDone = Promise.all(Array.from({ length: clients }, client));
  return {
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await clientsDone;
      return { ok, failures };
    },
  };
}
