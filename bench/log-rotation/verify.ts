/** Reads back the benchmark's log files: lines intact, lost, cut in two, repeated; the largest file. */
import fs from 'node:fs';
import { expectedLine } from '../../test/log/helpers.js';

export interface Verdict {
  readonly intact: number;
  /** Missing lines within the retained range (from the oldest line still there), cut ones not counted. */
  readonly lost: number;
  /** Older lines no longer in the retained files (rotated out): expected, not a loss. */
  readonly rotatedOut: number;
  /** Lines found split in two pieces (counted once, by their first piece). */
  readonly cut: number;
  readonly repeated: number;
  readonly largestFileBytes: number;
}

/** `files` hold the raw lines of writer `id` (oldest first); `lines` were written. */
/** `strip` removes a format's prefix (text format) before the line is compared. */
export function verify(files: readonly string[], id: string, lines: number, lineLength: number, strip?: RegExp): Verdict {
  const seen = new Uint8Array(lines);
  let intact = 0;
  let cut = 0;
  let repeated = 0;
  let largestFileBytes = 0;
  const head = new RegExp(`^${id} stdout (\\d+) `);
  for (const file of files.filter((name) => fs.existsSync(name))) {
    const text = fs.readFileSync(file, 'utf8');
    largestFileBytes = Math.max(largestFileBytes, Buffer.byteLength(text));
    const records = text.split('\n');
    records.forEach((record, index) => {
      if (record === '') return;
      // The last record of a file without its newline is the first piece of a line cut by a rotation, even
      // when the piece is too short to show its number.
      const unterminated = index === records.length - 1;
      const line = strip === undefined ? record : record.replace(strip, '');
      const seq = Number(head.exec(line)?.[1] ?? Number.NaN);
      if (Number.isInteger(seq) && seq < lines && line === expectedLine(id, 'stdout', seq, lineLength)) {
        if (seen[seq] === 1) repeated += 1;
        else intact += 1;
        seen[seq] = 1;
      } else if (Number.isInteger(seq) || unterminated) {
        cut += 1;
      }
    });
  }
  const first = seen.indexOf(1);
  const rotatedOut = first === -1 ? lines : first;
  return { intact, lost: lines - rotatedOut - intact - cut, rotatedOut, cut, repeated, largestFileBytes };
}

/** PATH.N … PATH.1, PATH. */
export function rotatedSet(path: string, backups: number): string[] {
  return [...Array.from({ length: backups }, (_, index) => `${path}.${backups - index}`), path];
}
