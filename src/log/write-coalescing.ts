/**
 * When a file sink starts its next write: at once once `minBytes` are queued, otherwise `delayMs` after the first
 * line that found nothing due (a lone line reaches the file within that delay), or at once when asked (flush,
 * end). Each write to a file is a round trip through libuv's pool: a thread woken, the event loop woken by its
 * completion. Written as read, a flood of worker output made one write per read of the pipe, ~1,440 per 100 MB;
 * gathered to 128 KiB, ~760, and ~45 % fewer context switches (bench/log-rotation.ts's capture, measured alone).
 * 512 KiB made no further difference in a bare reader.
 *
 * The timer is armed only while lines wait, so an idle supervisor makes no wake-ups; it is not unref'd, so a
 * process that exits on its own writes what it queued first. A queue at the sink's high-water mark is written at
 * once: its producer waits for 'drain'.
 */
export interface WriteCoalescing {
  /** A write starts as soon as this many bytes are queued (0: always at once). */
  readonly minBytes: number;
  /** Fewer bytes are written this long after they were queued. */
  readonly delayMs: number;
}

/** Every rotating file's default (worker output); the supervisor's own log writes at once (IMMEDIATE). */
export const DEFAULT_COALESCING: WriteCoalescing = { minBytes: 128 * 1024, delayMs: 10 };
export const IMMEDIATE: WriteCoalescing = { minBytes: 0, delayMs: 0 };

export class WriteGate {
  private timer: NodeJS.Timeout | null = null;
  /** Bytes accepted so far that must not wait for more (a flush, end, or an elapsed delay covered them). */
  private dueUntil = 0;

  private readonly minBytes: number;

  constructor(
    private readonly policy: WriteCoalescing,
    highWaterMark: number,
    private readonly onDue: () => void,
  ) {
    this.minBytes = Math.min(policy.minBytes, highWaterMark);
  }

  /**
   * Whether to write now, given the bytes queued and how many were settled (written or dropped) so far; if not,
   * the delay is armed (once) and `onDue` runs when it has passed (it calls due() and writes).
   */
  open(queuedBytes: number, settled: number): boolean {
    if (queuedBytes >= this.minBytes || settled < this.dueUntil) return true;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.onDue();
    }, this.policy.delayMs);
    return false;
  }

  /** Everything accepted up to `accepted` is written without waiting. */
  due(accepted: number): void {
    this.dueUntil = Math.max(this.dueUntil, accepted);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
