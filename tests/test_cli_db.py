"""`needsmap db upgrade` and `needsmap db status` on both backends, configured as a user would:
through NEEDSMAP_USER_STORE or NEEDSMAP_DATABASE_URL."""

from __future__ import annotations

from click.testing import CliRunner, Result

from needsmap.cli import main
from needsmap.config import Settings
from needsmap.store.users import USER_MIGRATIONS, open_user_store

from conftest import user_store_env

LATEST = USER_MIGRATIONS[-1][0]


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=user_store_env(settings), catch_exceptions=False)


def test_status_then_upgrade_then_status(user_settings: Settings) -> None:
    where = user_settings.database_url and user_settings.database_url.rsplit("/", 1)[1]
    fresh = run(user_settings, "db", "status")
    assert fresh.exit_code == 0, fresh.output
    assert "schema version 0" in fresh.output
    assert f"{len(USER_MIGRATIONS)} step(s) to apply with `needsmap db upgrade`" in fresh.output
    assert (where or str(user_settings.user_store_path)) in fresh.output

    done = run(user_settings, "db", "upgrade")
    assert done.exit_code == 0, done.output
    assert f"schema version 0 -> {LATEST}" in done.output
    assert all(f"applied {n}: {title}" in done.output for n, title, _ in USER_MIGRATIONS)
    if user_settings.database_url:
        assert "PostGIS        3." in done.output and "PostgreSQL     15." in done.output

    again = run(user_settings, "db", "upgrade")
    assert again.exit_code == 0 and f"schema version {LATEST}: already up to date" in again.output
    status = run(user_settings, "db", "status")
    assert f"schema version {LATEST}\n  up to date" in status.output

    store = open_user_store(user_settings)  # what the upgrade made is a store the app can use
    assert store.read().execute("SELECT count(*) FROM needs").fetchone()[0] == 0
    store.close()


def test_upgrade_of_an_older_store_lists_only_the_missing_steps(user_settings: Settings) -> None:
    open_user_store(user_settings, USER_MIGRATIONS[:2]).close()
    done = run(user_settings, "db", "upgrade")
    assert done.exit_code == 0, done.output
    assert f"schema version 2 -> {LATEST}" in done.output
    assert "applied 2:" not in done.output and f"applied {LATEST}:" in done.output


def test_a_store_that_cannot_be_read_is_a_one_line_error(user_settings: Settings) -> None:
    if user_settings.database_url:  # a server that is not there, with a password in the URL
        wrong = {"database_url": "postgresql://nobody:pw@127.0.0.1:1/none?connect_timeout=2"}
    else:  # NEEDSMAP_USER_STORE pointing at a file that is not a DuckDB database
        (user_settings.data_dir / "notes.txt").write_text("shopping list\n")
        wrong = {"user_store_path": user_settings.data_dir / "notes.txt"}
    broken = Settings(**{**user_settings.__dict__, **wrong})
    result = CliRunner().invoke(main, ["db", "status"], env=user_store_env(broken))
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot ") and "Traceback" not in result.output
    assert "pw@" not in result.output
