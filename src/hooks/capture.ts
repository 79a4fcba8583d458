import type { Readable } from 'node:stream';

export interface Capture {
  /** The first `limit` bytes, with a note of how many more were dropped. */
  text(): string;
}

/**
 * Keeps the head of a stream and drains the rest, so a chatty hook neither blocks on a full pipe
 * nor fills the supervisor's memory.
 */
export function capture(stream: Readable | null | undefined, limit: number): Capture {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  stream?.on('data', (chunk: Buffer) => {
    const room = limit - kept;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      kept += part.length;
    }
    dropped += Math.max(0, chunk.length - Math.max(room, 0));
  });
  // A stream destroyed while the hook still writes is expected (see runHook); the error is not news.
  stream?.on('error', () => undefined);
  return {
    text() {
      const head = Buffer.concat(chunks).toString('utf8');
      return dropped > 0 ? `${head}... [${dropped} more bytes]` : head;
    },
  };
}
