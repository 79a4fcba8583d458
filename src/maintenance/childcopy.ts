/**
 * Copies a file's bytes in a child `cp`. The supervisor must not open a plain fd on a board file:
 * closing it would drop the POSIX locks SQLite holds in this process. The child's fds are its own.
 * execa is loaded only here, when a board is copied: an idle daemon need not carry it.
 */
export async function copyInChild(source: string, destination: string): Promise<void> {
  const { execa } = await import('execa');
  await execa('cp', ['--reflink=auto', '--no-preserve=all', '--', source, destination]);
}
