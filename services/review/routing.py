"""Stages of review and who reviews at each, decided by the routing plugins.

Routing is guarded (shared.plugincalls): a router that raises, returns something other
than a Route, or names an organisation intake's registry does not know, is at fault,
and the stage cannot be routed (:class:`RoutingError`), as when no router decides. The
case is then parked as 振分けできません for an operator (services.review.cases)."""
from __future__ import annotations

from typing import Callable

import pluggy

from shared import plugincalls
from shared.forms import Route

# stage name -> status while the application waits at that stage
STAGES = (("forwarding", "forwarding"), ("primary", "primary_review"),
          ("secondary", "secondary_review"))
STATUS_OF = dict(STAGES)
# Which role decides at which stage.
ROLE_OF = {"forwarding": "forwarder", "primary": "primary_reviewer",
           "secondary": "secondary_reviewer"}
HOOK = "nws_review_route"


class RoutingError(RuntimeError):
    """``stage`` cannot be routed: ``plugin`` is at fault (None: no router decided)."""

    def __init__(self, stage: str, problem: str, plugin: str | None = None) -> None:
        super().__init__(f"stage {stage}: {problem}" + (f" (plugin {plugin})" if plugin else ""))
        self.stage, self.problem, self.plugin = stage, problem, plugin


def route(pm: pluggy.PluginManager, application: dict, stage: str,
          known: Callable[[str], bool] | None = None) -> Route:
    """The first router's decision for ``stage``. ``known(org_id)`` tells whether the
    registry knows an organisation (None: not checked)."""
    try:
        hit = plugincalls.first(pm, HOOK, plugincalls.route, application=application,
                                stage=stage)
    except plugincalls.PluginFaultError as exc:
        raise RoutingError(stage, exc.fault.problem, exc.fault.plugin) from None
    if hit is None:
        raise RoutingError(stage, f"no router decided stage {stage} for "
                                  f"{application['org']['id']}")
    plugin, decision = hit
    if decision.org_id is not None and known is not None and not known(decision.org_id):
        fault = plugincalls.record(plugincalls.PluginFault(
            plugin, HOOK, f"returned Route({decision.org_id!r}): an organisation the "
                          "registry does not know"))
        raise RoutingError(stage, fault.problem, plugin)
    return decision


def previous(stage: str) -> str | None:
    """The stage before ``stage`` (None for the first)."""
    names = [name for name, _ in STAGES]
    index = names.index(stage)
    return names[index - 1] if index else None


def next_stage(pm: pluggy.PluginManager, application: dict, after: str | None,
               known: Callable[[str], bool] | None = None) -> tuple[str, Route] | None:
    """The first stage after ``after`` whose router names a reviewer (None: done).
    :class:`RoutingError` when a stage cannot be routed."""
    names = [name for name, _ in STAGES]
    start = 0 if after is None else names.index(after) + 1
    for name in names[start:]:
        decision = route(pm, application, name, known)
        if decision.org_id is not None:
            return name, decision
    return None
