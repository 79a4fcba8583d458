#!/usr/bin/env python3
"""Runs a test command as the child of a subreaper that reaps: `python3 test/adopt.py ava`.

Tests SIGKILL supervisors on purpose and check that the gateways left behind keep running until the
next start stops them. Without a subreaper those orphans go to the host's init and leave the test
run's process tree, and how they ended is lost. Here they are adopted by this process instead, stay
in the run's tree, and are reaped when they exit, as a real init would. Exits with the command's
status.

Its pid is ORPHAN_REAPER in the command's environment, and how each adopted process ended is
appended to the file named by ORPHAN_FATES ("<pid> <time ms> exited <code>" or "... killed by
<signal>"), so a test whose orphan is gone can say how it went; the file is removed at the end.
"""
import ctypes
import os
import signal
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36


def main(argv):
    if not argv:
        print("usage: adopt.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"adopt.py: prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    fd, fates = tempfile.mkstemp(prefix="orphan-fates-", suffix=".log")
    os.close(fd)
    os.environ["ORPHAN_FATES"] = fates
    os.environ["ORPHAN_REAPER"] = str(os.getpid())
    try:
        return run(argv, fates)
    finally:
        os.unlink(fates)


def ending(status):
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited {os.waitstatus_to_exitcode(status)}"


def forward(child, signum):
    try:
        os.kill(child, signum)
    except ProcessLookupError:
        pass


def run(argv, fates):
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            print(f"adopt.py: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127)
    # A terminal's Ctrl-C reaches the command directly (same process group); a stop sent to this
    # process alone is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for forwarded in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(forwarded, lambda signum, _frame: forward(child, signum))
    while True:
        pid, status = os.wait()
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code
        with open(fates, "a") as log:
            log.write(f"{pid} {int(time.time() * 1000)} {ending(status)}\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
