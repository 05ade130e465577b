/** FastCGI requests from tests, through the same code path as `fcgi-spawn probe`. */
import { runProbe } from '../../src/commands/probe.js';

export interface ProbeResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function probe(address: string, path = '/', params: Record<string, string> = {}, timeoutMs = 10_000): Promise<ProbeResult> {
  let out = '';
  let err = '';
  const code = await runProbe(address, path, {
    timeoutMs,
    params,
    print: (text) => (out += text),
    printError: (text) => (err += text),
  });
  return { code, out, err };
}

/** The pid a fixture or CGI script reports in its body (`pid=123` or `pid 123`). */
/** The fcgiwrap worker that ran test/fixtures/cgi/hello.sh, as the script saw it. */
export function parentInBody(out: string): number | undefined {
  const match = /^parent=(\d+)$/m.exec(out);
  return match ? Number(match[1]) : undefined;
}

export function pidInBody(out: string): number | undefined {
  const match = /pid[= ](\d+)/.exec(out);
  return match ? Number(match[1]) : undefined;
}

/** Requests one after another until `until()` says stop (bounded, so a test gone wrong cannot spin for ever). */
export async function requestLoop(address: string, path: string, until: () => boolean, limitMs = 60_000): Promise<{ ok: number; failed: string[] }> {
  let ok = 0;
  const failed: string[] = [];
  const deadline = Date.now() + limitMs;
  while (!until() && Date.now() < deadline) {
    const answer = await probe(address, path);
    if (answer.code === 0) ok += 1;
    else failed.push(answer.err.trim() || `exit ${answer.code}`);
  }
  return { ok, failed };
}
