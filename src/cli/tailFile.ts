import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const CHUNK_BYTES = 64 * 1024;
const POLL_MS = 200;

interface OpenFile {
  fd: number;
  ino: number;
  offset: number;
}

function openOrNull(file: string): OpenFile | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  return { fd, ino: fstatSync(fd).ino, offset: 0 };
}

/**
 * Where the complete lines of the first `size` bytes end: a line still being written (a reader can
 * see part of a write) is left to the follow, which prints it whole once its newline is there.
 */
function completeLinesEnd(fd: number, size: number): number {
  for (let end = size; end > 0; ) {
    const length = Math.min(CHUNK_BYTES, end);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, end - length);
    const newline = buffer.lastIndexOf(0x0a);
    if (newline >= 0) return end - length + newline + 1;
    end -= length;
  }
  return 0;
}

/** The last `lines` lines of the first `size` bytes of an open file, read from the end. */
function lastLines(fd: number, size: number, lines: number): string[] {
  if (lines <= 0) return [];
  let start = size;
  let text = '';
  while (start > 0 && text.split('\n').length <= lines + 1) {
    const length = Math.min(CHUNK_BYTES, start);
    start -= length;
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, start);
    text = buffer.toString('utf8') + text;
  }
  return text.split('\n').filter(Boolean).slice(-lines);
}

/** The last `lines` lines kept in the rotated files `<file>.1`, `<file>.2`, ... (newest first on disk). */
function lastRotatedLines(file: string, lines: number): string[] {
  const found: string[] = [];
  for (let n = 1; found.length < lines && existsSync(`${file}.${n}`); n++) {
    const rotated = openOrNull(`${file}.${n}`);
    if (rotated === null) break;
    try {
      found.unshift(...lastLines(rotated.fd, fstatSync(rotated.fd).size, lines - found.length));
    } finally {
      closeSync(rotated.fd);
    }
  }
  return found;
}

/** Everything appended to the open file since the last read; a truncated file is read from its start. */
function readAppended(open: OpenFile): string {
  const size = fstatSync(open.fd).size;
  if (size < open.offset) open.offset = 0;
  if (size === open.offset) return '';
  const buffer = Buffer.alloc(size - open.offset);
  const read = readSync(open.fd, buffer, 0, buffer.length, open.offset);
  open.offset += read;
  return buffer.subarray(0, read).toString('utf8');
}

function inodeOrNull(file: string): number | null {
  try {
    return statSync(file).ino;
  } catch {
    return null;
  }
}

/**
 * Prints the last `lines` lines of a log (reaching into its rotated files when it is short) and, with
 * a signal, every line appended afterwards until the signal aborts. The file stays open throughout:
 * nothing written between the tail and the follow is missed, and when the file is rotated (renamed
 * away) the rest of the old one is printed before the new one is read.
 */
export async function showFile(file: string, lines: number, print: (line: string) => void, follow: AbortSignal | null): Promise<void> {
  let current = openOrNull(file);
  const size = current === null ? 0 : completeLinesEnd(current.fd, fstatSync(current.fd).size);
  const shown = current === null ? [] : lastLines(current.fd, size, lines);
  for (const line of [...lastRotatedLines(file, lines - shown.length), ...shown]) print(line);
  if (current !== null) current.offset = size;
  if (follow === null) {
    if (current !== null) closeSync(current.fd);
    return;
  }

  let pending = '';
  const emit = (text: string, endOfFile: boolean): void => {
    const parts = (pending + text).split('\n');
    pending = parts.pop() ?? '';
    if (endOfFile && pending) parts.push(pending);
    if (endOfFile) pending = '';
    for (const line of parts) if (line) print(line);
  };
  try {
    while (!follow.aborted) {
      await sleep(POLL_MS, undefined, { signal: follow }).catch(() => undefined);
      if (follow.aborted) break;
      if (current !== null) emit(readAppended(current), false);
      const onDisk = inodeOrNull(file);
      if (onDisk === null || onDisk === current?.ino) continue;
      if (current !== null) {
        emit(readAppended(current), true);
        closeSync(current.fd);
      }
      current = openOrNull(file);
      if (current !== null) emit(readAppended(current), false);
    }
  } finally {
    if (current !== null) closeSync(current.fd);
  }
}
