#!/usr/bin/env python3
"""Runs a test command as the child of a subreaper that reaps: `python3 test/adopt.py ava`.

Tests SIGKILL supervisors on purpose and check that the gateways left behind keep running until the
next start stops them. Without a subreaper those orphans go to the host's init and leave the test
run's process tree; a CI host that ends every process outside a job's tree ends them mid-test. Here
they are adopted by this process instead, stay in the run's tree, and are reaped when they exit, as
a real init would. Exits with the command's status.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv):
    if not argv:
        print("usage: adopt.py COMMAND [ARG...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"adopt.py: prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
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
        signal.signal(forwarded, lambda signum, _frame: os.kill(child, signum))
    while True:
        pid, status = os.wait()
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
