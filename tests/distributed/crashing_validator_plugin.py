"""Test plugin for the worker-metrics test: validating form 02-01 takes a second (so the
task is seen unacknowledged by the broker) and then raises (a plugin crash inside a
task)."""
import time

from shared.hookspecs import hookimpl


@hookimpl
def nws_validate_form(code, data, context):
    if code == "02-01":
        time.sleep(1.0)
        raise RuntimeError("crashing_validator_plugin: broken on purpose")
    return None
