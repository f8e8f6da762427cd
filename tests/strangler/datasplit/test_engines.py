"""The engine's roles: each is an abstract base class, every engine implements all of them, and an engine
missing one cannot be made (so a new engine learns what it lacks when it is written, not mid-copy)."""

from __future__ import annotations

import inspect

import pytest
import sqlalchemy as sa

from strangler.datasplit.engines import Engine, engine_class
from strangler.datasplit.engines.capture import Capture
from strangler.datasplit.engines.checkpoints import Checkpoints
from strangler.datasplit.engines.checksums import Checksums
from strangler.datasplit.engines.guard import Guard
from strangler.datasplit.engines.rows import Rows
from strangler.datasplit.engines.schema import Schema, bounded_name

ROLES = (Schema, Capture, Rows, Checksums, Guard, Checkpoints)


def test_the_engine_is_every_role_and_says_what_an_engine_must_implement() -> None:
    assert all(issubclass(Engine, role) for role in ROLES)
    assert {"connect", "exists", "create", "drop", "table_exists", "drop_triggers", "triggers_exist",
            "create_changelog", "install_capture", "start_changelog_after", "counter_column", "next_key",
            "reset_sequence", "chunk_digest", "install_guard"} == set(Engine.__abstractmethods__)


@pytest.mark.parametrize("backend", sorted({"sqlite", "postgresql", "mysql"}))
def test_every_engine_implements_every_role(backend: str) -> None:
    cls = engine_class(backend, "test")
    assert cls.kind == backend and not inspect.isabstract(cls)


def test_an_engine_missing_a_role_method_cannot_be_made() -> None:
    sqlite = engine_class("sqlite", "test")
    lacking = type("Lacking", (Engine,), {k: v for k, v in vars(sqlite).items() if k != "install_guard"})
    with pytest.raises(TypeError, match="install_guard"):
        lacking(sa.make_url("sqlite:///x.db"), "source")


def test_long_trigger_names_are_hashed_to_60_characters_the_same_on_every_run() -> None:
    engine = engine_class("sqlite", "test")(sa.make_url("sqlite:///x.db"), "source")
    assert engine.trigger_name("log", "t", "_i") == "log__t_i"
    assert engine.guard_trigger_name("plan", "t") == "strangler_guard_plan__t"
    long = engine.trigger_name("strangler_changelog_" + "x" * 30, "y" * 30, "_fn")
    assert len(long) <= 60 and long.startswith("strangler_changelog___") and long.endswith("_fn")
    assert long == engine.trigger_name("strangler_changelog_" + "x" * 30, "y" * 30, "_fn")
    assert bounded_name("a" * 61, "s_", "k", "_i") != bounded_name("a" * 61, "s_", "other", "_i")


def test_a_kind_whose_driver_is_not_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from strangler import extras
    from strangler.datasplit.engines import open_engine
    from strangler.datasplit.exceptions import UnsupportedDatabase

    monkeypatch.setitem(extras.EXTRAS, "postgres", ("no_such_driver_here",))
    wanted = (r"the service database \(postgresql\) needs no_such_driver_here, which is not installed: "
              r"pip install 'strangler-toolkit\[postgres\]'")
    with pytest.raises(UnsupportedDatabase, match=wanted):
        open_engine("postgresql://u@h/db", "service")


def test_every_engine_spells_every_kind_s_canonical_text() -> None:
    """Digests are compared across engines: each kind needs a spelling in each dialect (bool: BOOL_SQL's)."""
    from strangler.datasplit.engines.checksums import CANONICAL_SQL

    for kind, spelled in CANONICAL_SQL.items():
        expected = {"sqlite"} if kind == "bool" else {"sqlite", "postgresql", "mysql"}
        assert set(spelled) == expected, kind
