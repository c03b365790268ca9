#!/usr/bin/python3
"""Run Debian's getmail6 with its child wait made race-free.

getmail6 6.18 (getmailcore/baseclasses.py, ForkingBase) forks a child
for every Maildir/MDA delivery, installs its SIGCHLD handler only after
fork() returns, and waits on a Condition with no predicate: a child
that exits before the handler is installed, or before the wait starts,
is waited for until the socket timeout and the run fails with "waiting
child pid N timed out" -- seen on a loaded 2-core machine.  That race is
the client's, not the server's: here the wait is a plain waitpid(), and
everything getmail says on the wire is unchanged.

usage: getmail_waitpid.py GETMAIL ARGS...   (GETMAIL: path of getmail)
"""
import os
import runpy
import sys

from getmailcore import baseclasses
from getmailcore.exceptions import getmailOperationError


def _prepare_child(self):
    pass                        # no SIGCHLD handler: waitpid reaps


def _wait_for_child(self, childpid):
    while True:
        try:
            pid, status = os.waitpid(childpid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        raise getmailOperationError("child pid %d killed by signal %d"
                                    % (pid, os.WTERMSIG(status)))
    if not os.WIFEXITED(status):
        raise getmailOperationError("child pid %d failed to exit" % pid)
    return os.WEXITSTATUS(status)


baseclasses.ForkingBase._prepare_child = _prepare_child
baseclasses.ForkingBase._wait_for_child = _wait_for_child
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
