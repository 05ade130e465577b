/**
 * A stand-in for systemd's notify socket: an AF_UNIX datagram socket bound by a small python3
 * process (Node cannot bind one: dgram has no AF_UNIX), which prints every datagram as one JSON line
 * with the sender's pid from SCM_CREDENTIALS — what systemd checks for NotifyAccess=main.
 */
import { spawn } from 'node:child_process';
import { groupMembers, killQuietly } from '../helpers/processes.js';
import { findTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const RECEIVER = `
import json, os, socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\\0" + path[1:] if path.startswith("@") else path)
print(json.dumps({"bound": path}), flush=True)
while True:
    data, ancillary, flags, address = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", value[:12])[0]
    print(json.dumps({"pid": pid, "text": data.decode("utf-8", "replace")}), flush=True)
`;

export interface NotifyMessage {
  /** The sender's pid, as the kernel vouches for it. */
  readonly pid: number | null;
  readonly text: string;
  /** KEY=VALUE lines. */
  readonly fields: Readonly<Record<string, string>>;
  /** When the test read it (CLOCK_MONOTONIC µs, the clock of MONOTONIC_USEC). */
  readonly receivedUsec: bigint;
}

export interface NotifyReceiver {
  readonly path: string;
  readonly messages: NotifyMessage[];
  readonly pid: number;
  /**
   * The first message at index ≥ from whose fields include all of `want` ('*' matches any value).
   * `gaveUp` ends the wait early with its reason (the sender exited, say).
   */
  waitFor(want: Readonly<Record<string, string>>, options?: { from?: number; timeoutMs?: number; gaveUp?: () => string | undefined }): Promise<{ message: NotifyMessage; index: number }>;
  stop(): Promise<void>;
}

export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

function parseFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

function matches(fields: Readonly<Record<string, string>>, want: Readonly<Record<string, string>>): boolean {
  return Object.entries(want).every(([key, value]) => fields[key] !== undefined && (value === '*' || fields[key] === value));
}

/** The python3 the receiver needs, or undefined (the test is then skipped, saying so). */
export function python3(): string | undefined {
  return findTool('python3');
}

export async function startNotifyReceiver(path: string): Promise<NotifyReceiver> {
  const python = python3();
  if (!python) throw new Error('python3 is not installed');
  const child = spawn(python, ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid as number;
  const messages: NotifyMessage[] = [];
  let bound = false;
  let stderr = '';
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { bound?: string; pid?: number | null; text?: string };
      if (parsed.bound !== undefined) bound = true;
      else messages.push({ pid: parsed.pid ?? null, text: parsed.text ?? '', fields: parseFields(parsed.text ?? ''), receivedUsec: monotonicUsec() });
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => (stderr += text));

  const stop = async (): Promise<void> => {
    if (!exited) killQuietly(pid, 'SIGKILL');
    await gone;
    if (groupMembers(pid).length > 0) killQuietly(-pid, 'SIGKILL');
  };
  try {
    await waitFor(`the python3 receiver to bind ${path}`, () => {
      if (exited) throw new Error(`python3 receiver exited before binding ${path}: ${stderr.trim()}`);
      return bound;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    path,
    messages,
    pid,
    async waitFor(want, { from = 0, timeoutMs = 15_000, gaveUp } = {}) {
      const describe = (): string => `a notify message with ${Object.entries(want).map(([k, v]) => `${k}=${v}`).join(' ')} (from #${from}); got: ${JSON.stringify(messages.map((m) => m.text))}`;
      try {
        return await waitFor('', () => {
          const index = messages.findIndex((m, i) => i >= from && matches(m.fields, want));
          if (index !== -1) return { message: messages[index] as NotifyMessage, index };
          const reason = gaveUp?.();
          if (reason !== undefined) throw new Error(`gave up waiting for ${describe()}: ${reason}`);
          return undefined;
        }, { timeoutMs });
      } catch (error) {
        const message = (error as Error).message;
        throw new Error(message.startsWith('gave up') ? message : `timed out after ${timeoutMs} ms waiting for ${describe()}`);
      }
    },
    stop,
  };
}
