"""The reloader's refusals, in-process: the running table stays when a new file fails a check."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import load
from router.control.reload import Reloader
from router.control.state import TableHolder
from router.server.assembly import identity_problem

BASE = """
default: monolith
backends:
  monolith: {targets: http://127.0.0.1:9}
"""
WITH_IDENTITY = BASE + """
identity:
  resolve_url: http://127.0.0.1:9/api/accounts/me/
"""


def holder_for(path: Path) -> TableHolder:
    holder = TableHolder()
    holder.swap(load(path), origin="start")
    return holder


def test_a_file_needing_a_missing_identity_secret_is_refused(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_IDENTITY_SECRET", raising=False)
    path = tmp_path / "routes.yaml"
    path.write_text(BASE)
    holder = holder_for(path)
    reloader = Reloader(holder, path, checks=[identity_problem])
    path.write_text(WITH_IDENTITY)
    assert reloader.reload("sighup") is None
    assert reloader.last_error == [
        f"{path}: identity.secret_env: environment variable ROUTER_IDENTITY_SECRET is not set"]
    assert holder.version.number == 1 and holder.current.identity is None

    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", "x" * 32)
    version = reloader.reload("sighup")
    assert version is not None and version.number == 2
    assert holder.current.identity is not None


def test_a_reload_by_signal_or_admin_is_not_repeated_by_the_file_watcher(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(BASE)
    holder = holder_for(path)
    reloader = Reloader(holder, path)
    path.write_text(BASE + "\nmax_body: 1MiB\n")
    assert reloader.reload("sighup") is not None
    # The watcher compares with what was last read; it has nothing new to read, so a later admin change
    # is not undone by a late, second reload of the same file.
    assert reloader._stamp == reloader._file_stamp()
