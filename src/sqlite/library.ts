import fs from 'node:fs/promises';
import { noCandidates, pickVersion, SCAN_OVERLAP, scanChunk, type LibraryVersion } from './version.js';

/** Read this much at a time: a library is a few MB, and the process never holds more than a chunk of it. */
const CHUNK_BYTES = 1024 * 1024;

/** A file larger than this is not looked through (a static binary of hundreds of MB): its SQLite stays unknown. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

export type LibraryRead = { ok: true; found: LibraryVersion | null } | { ok: false; error: string };

/**
 * Looks through one library file for SQLite's version strings, a chunk at a time. The file is read,
 * never loaded: no code of it runs in the supervisor. `expect` is the (dev, ino) the process has
 * mapped: a path an upgrade has since replaced names another file, which is not read.
 */
export async function readLibraryVersion(file: string, expect: { dev: number; ino: number }): Promise<LibraryRead> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    return { ok: false, error: `cannot open ${file}: ${(err as Error).message}` };
  }
  try {
    const st = await handle.stat();
    if (st.dev !== expect.dev || st.ino !== expect.ino) return { ok: false, error: `${file} is no longer the file the process mapped` };
    if (!st.isFile()) return { ok: false, error: `${file} is not a regular file` };
    if (st.size > MAX_FILE_BYTES) return { ok: false, error: `${file} is larger than ${MAX_FILE_BYTES} bytes; not looked through` };
    const found = noCandidates();
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let base = 0; base < st.size; base += CHUNK_BYTES - SCAN_OVERLAP) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, base);
      if (bytesRead === 0) break;
      scanChunk(buffer.toString('latin1', 0, bytesRead), base, found);
      if (base + bytesRead >= st.size) break;
    }
    return { ok: true, found: pickVersion(found) };
  } catch (err) {
    return { ok: false, error: `cannot read ${file}: ${(err as Error).message}` };
  } finally {
    await handle.close();
  }
}
