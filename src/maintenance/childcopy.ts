import { execa } from 'execa';

/**
 * Copies a file's bytes in a child `cp`. The supervisor must not open a plain fd on a board file:
 * closing it would drop the POSIX locks SQLite holds in this process. The child's fds are its own.
 */
export async function copyInChild(source: string, destination: string): Promise<void> {
  await execa('cp', ['--reflink=auto', '--no-preserve=all', '--', source, destination]);
}
