"""Calling plugins: every hook call, and every callable a plugin hands over (a form's
validators, its ``required_for``), goes through here, so a plugin's fault stays the
plugin's.

A plugin that raises, runs past the task's soft time limit (the worker's
``NWS_TASK_TIME_LIMIT``: Celery raises ``SoftTimeLimitExceeded`` in it), or returns
something of the wrong shape (not a list of
:class:`~shared.forms.Finding`, a severity other than ``error`` / ``warning``, not a
:class:`~shared.forms.Route`), is at fault. The fault is logged with the plugin's name, the
hook and the correlation id, counted in ``nws_plugin_failures_total{plugin,hook}``, and
handed to the caller as a :class:`PluginFault`, which the caller turns into an outcome
people see: a blocking finding in intake, a case parked as 振分けできません in review.

Hooks are called one implementation at a time, in pluggy's order (``tryfirst`` first,
``trylast`` last, otherwise the last registered first), with the arguments each
implementation names, exactly as pluggy would call them; the difference is that each
result is checked and attributed to its plugin.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Iterable, Mapping

import pluggy
from celery.exceptions import SoftTimeLimitExceeded

from shared.forms import SEVERITIES, Finding, Route
from shared.observability import correlation_id, metrics, plugin_faults_in_task

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PluginFault:
    """What a plugin did wrong: ``problem`` is an English sentence for operators
    ("raised KeyError: 'org'", "returned dict, not a list of Finding")."""

    plugin: str
    hook: str
    problem: str
    # it ran past the task's soft time limit (the worker's NWS_TASK_TIME_LIMIT)
    timed_out: bool = False

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


class PluginFaultError(Exception):
    """A plugin's fault (already logged and counted)."""

    def __init__(self, fault: PluginFault) -> None:
        super().__init__(f"plugin {fault.plugin} failed in {fault.hook}: {fault.problem}")
        self.fault = fault


class WrongResult(Exception):
    """Raised by a result check: says what is wrong with the result."""


# --- checks of results ------------------------------------------------------------------

def findings(result: Any) -> list[Finding]:
    """A validator's result as a list of findings: None is none; anything but an
    iterable of :class:`Finding` with a known severity is wrong."""
    if result is None:
        return []
    if isinstance(result, (str, bytes, Mapping, Finding)) or not isinstance(result, Iterable):
        raise WrongResult(f"returned {type(result).__name__}, not a list of Finding")
    out = []
    for item in result:
        if not isinstance(item, Finding):
            raise WrongResult(f"returned a {type(item).__name__} among its findings, "
                              "not a Finding")
        if item.severity not in SEVERITIES:
            raise WrongResult(f"finding {item.rule!r} has severity {item.severity!r}, not one "
                              f"of {', '.join(repr(s) for s in SEVERITIES)}")
        for name in ("rule", "location", "message"):
            if not isinstance(getattr(item, name), str):
                raise WrongResult(f"finding {item.rule!r}: {name} is "
                                  f"{type(getattr(item, name)).__name__}, not str")
        out.append(item)
    return out


def route(result: Any) -> Route | None:
    """A router's result: None, or a Route whose org_id is None or a non-empty string."""
    if result is None:
        return None
    if not isinstance(result, Route):
        raise WrongResult(f"returned {type(result).__name__}, not a Route")
    if result.org_id is not None and (not isinstance(result.org_id, str) or not result.org_id):
        raise WrongResult(f"returned a Route whose org_id is {result.org_id!r}, not an "
                          "organisation id (or None to skip the stage)")
    if not isinstance(result.reason, str):
        raise WrongResult(f"returned a Route whose reason is {type(result.reason).__name__}, "
                          "not str")
    return result


def boolean(result: Any) -> bool:
    if not isinstance(result, bool):
        raise WrongResult(f"returned {type(result).__name__}, not True or False")
    return result


# --- calling ---------------------------------------------------------------------------------

def record(fault: PluginFault, exc: BaseException | None = None) -> PluginFault:
    """Log and count ``fault`` (with the correlation id of the message or request)."""
    log.error("plugin %s failed in %s: %s (correlation id %s)", fault.plugin, fault.hook,
              fault.problem, correlation_id.get(),
              exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
              extra={"plugin": fault.plugin, "hook": fault.hook})
    metrics().plugin_failures.labels(fault.plugin, fault.hook).inc()
    plugin_faults_in_task.set(plugin_faults_in_task.get() + 1)
    return fault


def fault_of(plugin: str, hook: str, exc: BaseException) -> PluginFault:
    """The fault of ``plugin`` that raised ``exc`` in ``hook`` (recorded): running past
    the soft time limit is the plugin's fault too, a timeout."""
    if isinstance(exc, SoftTimeLimitExceeded):
        fault = PluginFault(plugin, hook, "ran past the task's soft time limit "
                            "(NWS_TASK_TIME_LIMIT of the worker) and was stopped",
                            timed_out=True)
    else:
        fault = PluginFault(plugin, hook, f"raised {type(exc).__name__}: {exc}"[:1000])
    return record(fault, exc)


def call(plugin: str, hook: str, function: Callable[..., Any], *args: Any,
         check: Callable[[Any], Any] | None = None, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` of ``plugin``, its result through ``check``.
    :class:`PluginFaultError` when it raises or the check refuses the result (a
    generator is consumed by the check, so an exception while iterating counts too)."""
    try:
        result = function(*args, **kwargs)
        return check(result) if check is not None else result
    except WrongResult as exc:
        raise PluginFaultError(record(PluginFault(plugin, hook, str(exc)))) from None
    except Exception as exc:  # noqa: BLE001 - any exception of a plugin is its fault
        raise PluginFaultError(fault_of(plugin, hook, exc)) from exc


def implementations(pm: pluggy.PluginManager, hook: str) -> list:
    """The hook's implementations in the order pluggy calls them. (Hook wrappers are
    refused when the plugin manager is built: see shared.pluginmanager.)"""
    caller = getattr(pm.hook, hook)
    return [impl for impl in reversed(caller.get_hookimpls())
            if not (impl.hookwrapper or impl.wrapper)]


def collect(pm: pluggy.PluginManager, hook: str, check: Callable[[Any], Any],
            **kwargs: Any) -> tuple[list[tuple[str, Any]], list[PluginFault]]:
    """Every implementation's checked result with the plugin that gave it (None results
    left out, as pluggy leaves them out), and the faults of the others."""
    results: list[tuple[str, Any]] = []
    faults: list[PluginFault] = []
    for impl in implementations(pm, hook):
        args = [kwargs[name] for name in impl.argnames]
        try:
            result = call(impl.plugin_name, hook, impl.function, *args, check=check)
        except PluginFaultError as exc:
            faults.append(exc.fault)
            continue
        if result is not None:
            results.append((impl.plugin_name, result))
    return results, faults


def first(pm: pluggy.PluginManager, hook: str, check: Callable[[Any], Any],
          **kwargs: Any) -> tuple[str, Any] | None:
    """The first non-None result of a ``firstresult`` hook with the plugin that gave it
    (None: no plugin decided). A fault raises :class:`PluginFaultError` and the plugins
    after it are not asked: the faulty one may have been the one meant to decide."""
    for impl in implementations(pm, hook):
        args = [kwargs[name] for name in impl.argnames]
        result = call(impl.plugin_name, hook, impl.function, *args, check=check)
        if result is not None:
            return impl.plugin_name, result
    return None
