/** Splits a byte stream into newline-terminated lines without ever holding more than one line's limit. */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface SplitResult {
  lines: string[];
  /** The unfinished line passed the limit; everything after it is to be ignored. */
  overflow: boolean;
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowed = false;

  constructor(private readonly maxLineBytes: number) {}

  /** Bytes received after the last newline: a line the peer has not finished. */
  get partialBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): SplitResult {
    const lines: string[] = [];
    if (this.overflowed) return { lines, overflow: true };
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const length = this.pendingBytes + (nl - start);
      if (length > this.maxLineBytes) return this.overflow(lines);
      const line = this.pendingBytes === 0 ? chunk.subarray(start, nl) : Buffer.concat([...this.pending, chunk.subarray(start, nl)]);
      this.pending = [];
      this.pendingBytes = 0;
      lines.push(decodeLine(line));
      start = nl + 1;
    }
    const rest = chunk.length - start;
    if (rest > 0) {
      if (this.pendingBytes + rest > this.maxLineBytes) return this.overflow(lines);
      // Copy: the caller's buffer may be reused once we return.
      this.pending.push(Buffer.from(chunk.subarray(start)));
      this.pendingBytes += rest;
    }
    return { lines, overflow: false };
  }

  private overflow(lines: string[]): SplitResult {
    this.overflowed = true;
    this.pending = [];
    this.pendingBytes = 0;
    return { lines, overflow: true };
  }
}

function decodeLine(line: Buffer): string {
  const end = line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.length - 1 : line.length;
  return line.toString('utf8', 0, end);
}
