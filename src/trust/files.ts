/**
 * Files in the state dir, opened without following symlinks (O_NOFOLLOW): a link put in place of one
 * is refused (ELOOP) instead of leading a write or a read elsewhere. Every failure names the file.
 */
import fs from 'node:fs';

const { O_APPEND, O_CREAT, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY } = fs.constants;

function named(action: string, file: string, err: unknown): Error {
  const error = new Error(`cannot ${action} ${file}: ${(err as Error).message}`) as NodeJS.ErrnoException;
  error.code = (err as NodeJS.ErrnoException).code;
  return error;
}

/** Opens file without following a symlink; failures name `shown` (the file a temp file stands in for). */
function withFd<T>(file: string, flags: number, action: string, use: (fd: number) => T, shown = file): T {
  let fd: number;
  try {
    fd = fs.openSync(file, flags | O_NOFOLLOW, 0o600);
  } catch (err) {
    throw named(action, shown, err);
  }
  try {
    return use(fd);
  } catch (err) {
    throw named(action, shown, err);
  } finally {
    fs.closeSync(fd);
  }
}

export function readPrivateFile(file: string): string {
  return withFd(file, O_RDONLY, 'read', (fd) => fs.readFileSync(fd, 'utf8'));
}

export function appendPrivateFile(file: string, text: string): void {
  withFd(file, O_WRONLY | O_APPEND | O_CREAT, 'write', (fd) => fs.writeSync(fd, text));
}

/**
 * Replaces file in one step (temp file, fsync, rename) at mode 0600, so a crash mid-write leaves the
 * old content or the new, never half of either.
 */
export function replacePrivateFile(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    withFd(temp, O_WRONLY | O_CREAT | O_TRUNC, 'write', (fd) => {
      // A temp file left by an earlier crash keeps its old mode; set it outright.
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    }, file);
    fs.renameSync(temp, file);
  } catch (err) {
    // A half-written temp file must not keep filling a full disk.
    fs.rmSync(temp, { force: true });
    throw (err as Error).message.startsWith('cannot ') ? err : named('write', file, err);
  }
}
