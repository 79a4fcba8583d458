/** The control socket's file: created private and exclusive, and removed only while it is still ours. */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface FileIdentity {
  dev: number;
  ino: number;
}

/** sun_path is 108 bytes on Linux, terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/** `.ctl<pid>-`: the creator's pid, so a folder a killed supervisor left is known to be stale. */
const TEMP_DIR_PREFIX = '.ctl';
const tempDirPrefix = (): string => `${TEMP_DIR_PREFIX}${process.pid}-`;
/** "/" + prefix with the longest pid (7 digits) + six random characters + "/s": the bind path's extra length. */
const TEMP_SUFFIX_BYTES = 1 + TEMP_DIR_PREFIX.length + 8 + 6 + 2;

export function identityOf(stats: fs.Stats): FileIdentity {
  return { dev: stats.dev, ino: stats.ino };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

export function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The problem with a socket path's length, or null; Node would otherwise truncate or fail obscurely. */
export function socketPathProblem(socketPath: string): string | null {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    return `control socket path ${socketPath} is too long (${bytes} bytes; Unix sockets allow ${MAX_SOCKET_PATH_BYTES})`;
  }
  const bindBytes = Buffer.byteLength(path.dirname(socketPath)) + TEMP_SUFFIX_BYTES;
  if (bindBytes > MAX_SOCKET_PATH_BYTES) {
    return `control socket directory ${path.dirname(socketPath)} is too long to bind in (${bindBytes} bytes needed; Unix sockets allow ${MAX_SOCKET_PATH_BYTES})`;
  }
  return null;
}

function listen(server: net.Server, bindPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    // exclusive: bind in this process even under cluster, so bind() has happened when listen() returns.
    server.listen({ path: bindPath, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeQuietly(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Listens at socketPath with the socket file at mode 0600 from the moment the path exists, and never
 * replaces anything already there (fails with EEXIST instead).
 *
 * The socket is bound inside a fresh 0700 directory, chmodded, then hard-linked into place: link()
 * is atomic and refuses an existing target, and no process-wide umask is touched. The bind path is
 * removed at once, so when libuv unlinks it on close it cannot hit the shared path.
 */
export async function listenPrivate(server: net.Server, socketPath: string): Promise<FileIdentity> {
  let tempDir: string;
  try {
    tempDir = fs.mkdtempSync(path.join(path.dirname(socketPath), tempDirPrefix()));
  } catch (err) {
    throw new Error(`cannot create the control socket ${socketPath}: ${(err as Error).message}`);
  }
  const bindPath = path.join(tempDir, 's');
  try {
    await listen(server, bindPath);
    try {
      fs.chmodSync(bindPath, 0o600);
      fs.linkSync(bindPath, socketPath);
    } catch (err) {
      await closeQuietly(server);
      throw err;
    }
    return identityOf(fs.lstatSync(socketPath));
  } finally {
    fs.rmSync(bindPath, { force: true });
    fs.rmdirSync(tempDir);
  }
}

/** Unlinks socketPath only if it is still the file with this identity; says whether it did. */
export function unlinkIfSame(socketPath: string, identity: FileIdentity): boolean {
  const current = lstatOrNull(socketPath);
  if (current === null || !sameIdentity(identityOf(current), identity)) return false;
  try {
    fs.unlinkSync(socketPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
