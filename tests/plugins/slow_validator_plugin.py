"""Test plugin for slow validation (issue 16 point 4): its ``nws_validate_form`` sleeps
NWS_TEST_SLOW_SECONDS (default 3) on the forms of organisation NWS_TEST_SLOW_ORG (every
organisation when unset), then finds nothing.

NWS_TEST_SLOW_MARKER names a file that gets one line (the process id) each time the
validator starts, so a test can tell when it runs and how often it ran.
NWS_TEST_SLOW_IGNORE_SOFT=1 makes it ignore Celery's soft time limit and go on sleeping
(a plugin stuck in C code would do the same), so only the hard limit ends it."""
import os
import time

from celery.exceptions import SoftTimeLimitExceeded

from shared.hookspecs import hookimpl


def _sleep(seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            time.sleep(left)
        except SoftTimeLimitExceeded:
            if os.environ.get("NWS_TEST_SLOW_IGNORE_SOFT") != "1":
                raise


@hookimpl
def nws_validate_form(code, data, context):
    org = os.environ.get("NWS_TEST_SLOW_ORG")
    if org and context.org["id"] != org:
        return None
    marker = os.environ.get("NWS_TEST_SLOW_MARKER")
    if marker:
        with open(marker, "a") as out:
            out.write(f"{os.getpid()}\n")
    _sleep(float(os.environ.get("NWS_TEST_SLOW_SECONDS", "3")))
    return None
