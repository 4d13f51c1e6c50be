"""Alembic environment of the identity service (its own history and version table)."""
from alembic import context

from shared.migrate import run_env
from services.identity.models import Base

run_env(Base.metadata, context)
