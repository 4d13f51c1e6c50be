"""The suite's plugin hooks. Every form and every review router is a plugin.

A plugin is a module (or object) with functions marked ``@hookimpl``::

    from shared.hookspecs import hookimpl

    @hookimpl
    def nws_form_specs():
        return [FormSpec(code="99-01", ...)]

Built-in plugins live in ``plugins/`` and are registered exactly like third-party ones,
which declare an entry point in the ``nws`` group of their package metadata.
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
    """Return the form specifications this plugin provides (schema, required-ness,
    validators). Called when a plugin manager is built; every result is collected.
    Two plugins providing the same form code is an error."""


@hookspec
def nws_validate_form(code: str, data: dict, context: "FormContext") -> list["Finding"]:
    """Extra checks of one form's data, after its own schema and validators passed.

    Runs in the intake worker each time a form is validated; return findings (possibly
    empty) for ``code`` or None for forms this plugin does not check. All results are
    collected."""


@hookspec
def nws_validate_application(application: dict, forms: dict[str, dict],
                             context: "FormContext") -> list["Finding"]:
    """Whole-application checks across forms (e.g. the same person on 02-01 and 02-06).

    Runs in the intake worker when an application is submitted; all results are
    collected. Findings with severity "error" stop the submission."""


@hookspec(firstresult=True)
def nws_review_route(application: dict, stage: str) -> "Route | None":
    """Decide who reviews ``application`` at ``stage`` ("forwarding", "primary" or
    "secondary"). Return a Route naming the reviewing organisation, or
    ``Route(None, reason)`` to skip the stage; return None to leave it to other routers.
    Stops at the first non-None result; the built-in routers run last."""


@hookspec
def nws_master_published(version: dict[str, Any], changes: dict[str, Any]) -> None:
    """A new master version was made. Runs inside the transaction that makes it: in the
    master worker for a registration in immediate mode, in the operator's request for a
    配信 in batched mode (raising rolls it back; the task is retried).
    ``version`` has number, checksum, created_at and source applications; ``changes``
    has the added, removed and changed rows per table."""
