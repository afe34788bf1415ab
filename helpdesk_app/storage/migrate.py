"""Bring the database's schema to the newest migration.

    python -m helpdesk_app.storage.migrate       # the Procfile's release phase

reads DATABASE_URL (default: the service's, sqlite:///instance/helpdesk.db) and needs no
other setting, so it runs before the web and worker processes start. Exit code 0 when the
schema is current, 2 on failure; the URL is never printed (it may hold a password).
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from helpdesk_app.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]  # the repository: alembic.ini, migrations/
log = logging.getLogger(__name__)


def alembic_config(url: str | None = None) -> Config:
    """The repository's alembic.ini, pointed at `url` when given.

    Alembic is imported here, not with the module: it brings Mako and Pygments, and the
    commands that only read DATABASE_URL (the CLI's) have no use for them."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    # Absolute, so that the working directory does not matter.
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["configure_logger"] = False
    if url is not None:
        # An attribute, not `sqlalchemy.url`: configparser would choke on a '%' in a password.
        config.attributes["database_url"] = url
    return config


def newest_revision() -> str:
    """The head of migrations/: the schema version a database must be at."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (the newest by default)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def database_url_from_env(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("DATABASE_URL", "").strip() or Settings.model_fields["database_url"].default


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        upgrade(database_url_from_env())
    except Exception as error:  # the release phase must fail loudly, with a reason
        log.error("migrate.failed", extra={"error": type(error).__name__})
        print(f"migration failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    log.info("migrate.done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
