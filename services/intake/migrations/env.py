"""Alembic environment of the intake service (its own history and version table)."""
from alembic import context

from shared.migrate import run_env
from services.intake.models import Base

run_env(Base.metadata, context)
