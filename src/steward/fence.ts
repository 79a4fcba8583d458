/** Freezes processes at once so a stale holder cannot write another byte: SIGSTOP to each group or pid. */
export function freeze(targets: Array<{ pid: number; group: boolean }>): number[] {
  const frozen: number[] = [];
  for (const target of targets) {
    try {
      process.kill(target.group ? -target.pid : target.pid, 'SIGSTOP');
      frozen.push(target.pid);
    } catch {
      // Already gone: nothing left to fence.
    }
  }
  return frozen;
}
