"""Stages of review and who reviews at each, decided by the routing plugins."""
from __future__ import annotations

import pluggy

from shared.forms import Route

# stage name -> status while the application waits at that stage
STAGES = (("forwarding", "forwarding"), ("primary", "primary_review"),
          ("secondary", "secondary_review"))
STATUS_OF = dict(STAGES)
# Which role decides at which stage.
ROLE_OF = {"forwarding": "forwarder", "primary": "primary_reviewer",
           "secondary": "secondary_reviewer"}


class RoutingError(RuntimeError):
    pass


def route(pm: pluggy.PluginManager, application: dict, stage: str) -> Route:
    result = pm.hook.nws_review_route(application=application, stage=stage)
    if result is None:
        raise RoutingError(f"no router decided stage {stage} for {application['org']['id']}")
    return result


def next_stage(pm: pluggy.PluginManager, application: dict,
               after: str | None) -> tuple[str, Route] | None:
    """The first stage after ``after`` whose router names a reviewer (None: done)."""
    names = [name for name, _ in STAGES]
    start = 0 if after is None else names.index(after) + 1
    for name in names[start:]:
        decision = route(pm, application, name)
        if decision.org_id is not None:
            return name, decision
    return None
