import type { Readable } from 'node:stream';

/** Which part of a long output is kept: the first bytes (what went wrong first) or the last (how it ended). */
export type KeepPart = 'head' | 'tail';

export interface Capture {
  /** The kept bytes, with a note of how many others were dropped. */
  text(): string;
}

/**
 * Keeps `limit` bytes of what one or more streams write and drains the rest, so a chatty child
 * neither blocks on a full pipe nor fills the supervisor's memory.
 */
export function capture(streams: Array<Readable | null | undefined>, limit: number, keep: KeepPart = 'head'): Capture {
  let chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  const onData = (chunk: Buffer) => {
    if (keep === 'head') {
      const room = Math.max(limit - kept, 0);
      const part = chunk.subarray(0, room);
      if (part.length > 0) chunks.push(part);
      kept += part.length;
      dropped += chunk.length - part.length;
      return;
    }
    chunks.push(chunk);
    kept += chunk.length;
    if (kept > limit) {
      const all = Buffer.concat(chunks);
      dropped += all.length - limit;
      chunks = [all.subarray(all.length - limit)];
      kept = limit;
    }
  };
  for (const stream of streams) {
    stream?.on('data', onData);
    // A stream destroyed while the child still writes is expected (its pipes are cut after a drain).
    stream?.on('error', () => undefined);
  }
  return {
    text() {
      const body = Buffer.concat(chunks).toString('utf8');
      if (dropped === 0) return body;
      return keep === 'head' ? `${body}... [${dropped} more bytes]` : `[${dropped} earlier bytes] ...${body}`;
    },
  };
}
