import { runProcess } from '../proc/index.js';
import { HEADER_BYTES, parseHeader, type BoardHeader } from './header.js';

export type HeaderRead = { ok: true; header: BoardHeader } | { ok: false; error: string };

const READ_TIMEOUT_MS = 10_000;

/**
 * Reads a board's first 100 bytes in a child `od`. The supervisor must not open a plain fd on a board
 * file: closing it would drop the POSIX locks SQLite holds in this process, and a connection (a probe,
 * a checkpoint) may be open on the board at any moment. The child's fds are its own. Hex text comes
 * through the output capture unchanged, where raw bytes would be decoded as UTF-8.
 */
export async function readHeaderInChild(file: string): Promise<HeaderRead> {
  const result = await runProcess(['od', '-A', 'n', '-t', 'x1', '-v', '-N', String(HEADER_BYTES), '--', file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    capture: { keep: 'head', limit: 4096 },
    timeoutMs: READ_TIMEOUT_MS,
    graceMs: 1000,
  });
  if (result.error !== undefined || result.code !== 0) {
    const why = result.error ?? (result.stderr.trim() || `od exited with ${result.code ?? result.signal}`);
    return { ok: false, error: `cannot read the header of ${file}: ${why}` };
  }
  const tokens = result.stdout.split(/\s+/).filter((token) => token !== '');
  if (tokens.some((token) => !/^[0-9a-f]{2}$/.test(token))) return { ok: false, error: `cannot read the header of ${file}: od printed ${JSON.stringify(result.stdout.slice(0, 80))}` };
  return { ok: true, header: parseHeader(Uint8Array.from(tokens.map((token) => Number.parseInt(token, 16)))) };
}
