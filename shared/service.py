"""How a service describes itself to the composition root, and how its code reaches
its run-time context (database, outbox, plugins) from a view or a task."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import pluggy
from flask import Blueprint, current_app

from shared.messaging import ServiceContext


@dataclasses.dataclass(frozen=True)
class ServiceDefinition:
    name: str
    metadata: object                      # the service's SQLAlchemy MetaData
    outbox_model: type
    inbox_model: type
    migrations: Path                      # its Alembic script folder
    blueprints: Callable[[], list[Blueprint]]
    tasks_module: str | None              # imported by workers of this service
    seed: Callable[[ServiceContext], None] | None = None
    # Its dead-letter table (shared.messaging.DeadLetterMixin)
    dead_letter_model: type | None = None
    # Its audit log (shared.audit.AuditLogMixin): sessions of its database record into it
    audit_model: type | None = None
    # The identity service's revocation state (shared.auth.AuthState.from_json's input),
    # read in-process by web processes that run it.
    auth_state: Callable[[ServiceContext], dict] | None = None


def context(name: str) -> ServiceContext:
    """The ServiceContext of ``name`` in the current Flask app."""
    return current_app.extensions["nws.services"][name]


def plugins() -> pluggy.PluginManager:
    """The plugin manager of the current Flask app."""
    return current_app.extensions["nws.plugins"]
