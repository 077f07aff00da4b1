"""Alembic migrations of the issuer database (the same scripts for SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

__all__ = ["alembic_config", "upgrade"]


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that runs the bundled scripts on ``engine``."""
    config = Config()
    config.set_main_option("script_location", "issuer.storage:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``."""
    command.upgrade(alembic_config(engine), revision)
