import { processStartTime } from '../board/proc.js';
import type { GroupKind, GroupTracker } from '../proc/index.js';
import { forgetGroup, recordGroup } from './records.js';

/**
 * Records a group the supervisor starts while it runs, so the next start finds it after a crash.
 * A record that cannot be written (a full disk) is reported through onError, never thrown: the
 * group's mark still finds it.
 */
export function groupTracker(stateDir: string, kind: GroupKind, name: string, onError: (err: Error) => void): GroupTracker {
  const startTimes = new Map<number, number>();
  const guarded = (task: () => void) => {
    try {
      task();
    } catch (err) {
      onError(err as Error);
    }
  };
  return {
    spawned(pid) {
      const startTime = processStartTime(pid);
      if (startTime === null) return;
      startTimes.set(pid, startTime);
      guarded(() => recordGroup(stateDir, { kind, name, pid, pgid: pid, startTime }));
    },
    gone(pid) {
      const startTime = startTimes.get(pid);
      startTimes.delete(pid);
      if (startTime !== undefined) guarded(() => forgetGroup(stateDir, { kind, name, pid, startTime }));
    },
  };
}
