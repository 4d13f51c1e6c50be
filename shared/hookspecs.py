"""The suite's plugin hooks. Every form and every review router is a plugin.

A plugin is a module (or object) with functions marked ``@hookimpl``::

    from shared.hookspecs import hookimpl

    @hookimpl
    def nws_form_specs():
        return [FormSpec(code="99-01", ...)]

Built-in plugins live in ``plugins/`` and are registered exactly like third-party ones,
which declare an entry point in the ``nws`` group of their package metadata.

The suite calls every hook through :mod:`shared.plugincalls`: an implementation that
raises or returns something of the wrong shape is at fault, and its fault becomes a
visible outcome (a blocking finding, a case parked as 振分けできません) instead of a
stuck application. Hook wrappers are refused.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from shared.forms import Finding, FormContext, FormSpec, Route

PROJECT = "nws"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def nws_form_specs() -> list["FormSpec"]:
    """Return the form specifications this plugin provides (schema, ``required_for``,
    which every FormSpec must state, validators). Called when a plugin manager is built
    and whenever the suite lists its forms; every result is collected. Raising,
    returning anything but FormSpecs, two plugins providing the same form code and two
    forms sharing a workbook sheet name are start-up errors."""


@hookspec
def nws_validate_form(code: str, data: dict, context: "FormContext") -> list["Finding"]:
    """Extra checks of one form's data, after its own schema and validators passed.

    Runs in the intake worker each time a form is validated; return a list of Finding
    (possibly empty; severity "error" or "warning") for ``code``, or None for forms this
    plugin does not check. All results are collected. Raising or returning anything else
    gives the form one blocking finding naming the plugin."""


@hookspec
def nws_validate_application(application: dict, forms: dict[str, dict],
                             context: "FormContext") -> list["Finding"]:
    """Whole-application checks across forms (e.g. the same person on 02-01 and 02-06).

    Runs in the intake worker when an application is submitted; return a list of
    Finding or None. All results are collected. Findings with severity "error" stop the
    submission; raising or returning anything else stops it with a finding naming the
    plugin."""


@hookspec(firstresult=True)
def nws_review_route(application: dict, stage: str) -> "Route | None":
    """Decide who reviews ``application`` at ``stage`` ("forwarding", "primary" or
    "secondary"). Return a Route naming the reviewing organisation (one intake's
    registry knows), or ``Route(None, reason)`` to skip the stage; return None to leave
    it to other routers. Stops at the first non-None result; the built-in routers run
    last. Raising, returning anything else or naming an unknown organisation parks the
    case as unroutable (振分けできません) for an operator to re-route."""


@hookspec
def nws_master_published(version: dict[str, Any], changes: dict[str, Any]) -> None:
    """A new master version was made. Runs inside the transaction that makes it: in the
    master worker for a registration in immediate mode, in the operator's request for a
    配信 in batched mode (raising rolls it back; the task is retried).
    ``version`` has number, checksum, created_at and source applications; ``changes``
    has the added, removed and changed rows per table."""
