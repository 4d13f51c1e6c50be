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
stuck application (``HOOK_RESULTS`` sums it up per hook). Hook wrappers are refused.

Every argument's exact shape is declared in :mod:`shared.hooktypes` (TypedDicts and the
dataclasses of :mod:`shared.forms`), re-exported here.
"""
from __future__ import annotations

import pluggy

# The types of every hook's arguments and results, re-exported so that a plugin imports
# what it needs from one place: ``from shared.hookspecs import hookimpl, OrgRef, Route``.
from shared.hooktypes import (  # noqa: F401  (re-exported for plugin authors)
    ERROR, HOOK_RESULTS, WARNING, ApplicationRef, ContextApplication, Finding,
    FindingsResult, FormContext, FormData, Forms, FormSpec, MasterChanges, MasterVersion,
    OrgRef, Route, RoutedApplication, RouteResult, Selection, Stage)

PROJECT = "nws"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def nws_form_specs() -> list[FormSpec] | None:
    """Return the form specifications this plugin provides (schema, ``required_for``,
    which every FormSpec must state, validators). Called when a plugin manager is built
    and whenever the suite lists its forms; every result is collected. Raising,
    returning anything but FormSpecs, two plugins providing the same form code and two
    forms sharing a workbook sheet name are start-up errors."""


@hookspec
def nws_validate_form(code: str, data: FormData, context: FormContext) -> FindingsResult:
    """Extra checks of one form's data, after its own schema and validators passed.

    Runs in the intake worker each time a form is validated; return a list of Finding
    (possibly empty; severity "error" or "warning") for ``code``, or None for forms this
    plugin does not check. All results are collected. Raising or returning anything else
    gives the form one blocking finding naming the plugin."""


@hookspec
def nws_validate_application(application: ApplicationRef, forms: Forms,
                             context: FormContext) -> FindingsResult:
    """Whole-application checks across forms (e.g. the same person on 02-01 and 02-06).

    Runs in the intake worker when an application is submitted; return a list of
    Finding or None. All results are collected. Findings with severity "error" stop the
    submission; raising or returning anything else stops it with a finding naming the
    plugin."""


@hookspec(firstresult=True)
def nws_review_route(application: RoutedApplication, stage: Stage) -> RouteResult:
    """Decide who reviews ``application`` at ``stage`` ("forwarding", "primary" or
    "secondary"). Return a Route naming the reviewing organisation (one intake's
    registry knows), or ``Route(None, reason)`` to skip the stage; return None to leave
    it to other routers. Stops at the first non-None result; the built-in routers run
    last. Raising, returning anything else or naming an unknown organisation parks the
    case as unroutable (振分けできません) for an operator to re-route."""


@hookspec
def nws_master_published(version: MasterVersion, changes: MasterChanges) -> None:
    """A new master version was made. Runs inside the transaction that makes it: in the
    master worker for a registration in immediate mode, in the operator's request for a
    配信 in batched mode (raising rolls it back; the task is retried).
    ``version`` has number, checksum, created_at and source applications; ``changes``
    has the added, removed and changed rows per table."""
