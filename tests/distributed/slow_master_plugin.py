"""Test plugin for the worker-kill test: the first master registration records the pid
of the worker process running it and then hangs, so the test can kill that process in
the middle of the task (inside the registration's transaction)."""
import os
import time
from pathlib import Path

from shared.hookspecs import hookimpl


@hookimpl
def nws_master_published(version, changes):
    marker = Path(os.environ["NWS_TEST_SLOW_MARKER"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)
