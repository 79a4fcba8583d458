import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readProcStat } from '../../src/board/proc.js';
import type { RunningSupervisor } from './cli.js';
import type { FleetDir } from './fleetDir.js';

/**
 * A gateway that prints "up <name>" and idles. A signal that ends it is first written, with the pid
 * and command line of its sender, to `signals.log` in the fleet folder: a test whose gateway is gone
 * too soon can then say who ended it. SIGKILL cannot be caught; test/adopt.py's record says that one.
 */
const IDLE_GATEWAY = `import os, signal, sys
ENDING = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGUSR1, signal.SIGUSR2}
signal.pthread_sigmask(signal.SIG_BLOCK, ENDING)
print("up", sys.argv[1], flush=True)
info = signal.sigtimedwait(ENDING, 600)
if info is None:
    sys.exit(0)
try:
    with open(f"/proc/{info.si_pid}/cmdline", "rb") as cmdline:
        sender = cmdline.read().replace(b"\\0", b" ").decode(errors="replace").strip()
except OSError:
    sender = "(gone)"
with open(sys.argv[2], "a") as log:
    log.write(f"{os.getpid()} {sys.argv[1]}: {signal.Signals(info.si_signo).name} from pid {info.si_pid} {sender}\\n")
signal.signal(info.si_signo, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, ENDING)
os.kill(os.getpid(), info.si_signo)
`;

const signalLog = (root: string): string => path.join(root, 'signals.log');

/** The idle gateway's argv after the interpreter: the script, `name` (e.g. `{profile}`), the signal log. */
export function idleGateway(dir: FleetDir, name: string): string[] {
  return [dir.script('gateway.py', IDLE_GATEWAY), name, signalLog(dir.root)];
}

/** What became of each of `pids`, idle gateways of the fleet folder `root`, for a failure message. */
export function endings(root: string, pids: ReadonlyArray<number | undefined>): string {
  const caught = existsSync(signalLog(root)) ? readFileSync(signalLog(root), 'utf8').trim() : '';
  return `${pids.map((pid) => (pid === undefined ? 'no pid' : `${pid}: ${orphanFate(pid)}`)).join('; ')}; signals caught: ${caught || 'none'}`;
}

/** How a process that outlived its parent ended, as test/adopt.py (the run's subreaper) saw it. */
export function orphanFate(pid: number): string {
  const stat = readProcStat(pid);
  if (stat !== null && stat.state !== 'Z') {
    const reaper = stat.ppid === Number(process.env.ORPHAN_REAPER) ? ' (test/adopt.py)' : stat.ppid === 1 ? ' (init)' : '';
    return `still running, parent ${stat.ppid}${reaper}`;
  }
  const fates = process.env.ORPHAN_FATES;
  if (fates === undefined) return 'gone (no ORPHAN_FATES: not run under test/adopt.py)';
  const line = readFileSync(fates, 'utf8').split('\n').find((entry) => entry.startsWith(`${pid} `));
  if (line === undefined) return 'gone, never reaped by test/adopt.py (so not its orphan)';
  const [, at, ...how] = line.split(' ');
  return `${how.join(' ')} at ${new Date(Number(at)).toISOString()}`;
}

/**
 * SIGKILLs the supervisor once each profile's idle gateway has printed its "up" line. Ready may be a
 * timer: a gateway still starting when its supervisor dies prints into a pipe nobody reads any more,
 * and exits on the broken pipe before anything can find it.
 */
export async function killOnceUp(supervisor: RunningSupervisor, profiles: string[]): Promise<void> {
  await Promise.all(profiles.map((profile) => supervisor.waitFor(`${profile} | up`)));
  supervisor.child.kill('SIGKILL');
  await supervisor.exited;
}
