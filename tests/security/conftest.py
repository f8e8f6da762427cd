"""The security suite's stages: each extracted service in process on a seeded SQLite file of its own
(:mod:`tests.security.stages`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.security.stages import Stage, running, seed_template


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``seeded(service)``: the path of that service's migrated, seeded database (made once a worker, then copied)."""
    folder = tmp_path_factory.mktemp("security-templates")
    made: dict[str, Path] = {}

    def template(service: str) -> Path:
        if service not in made:
            made[service] = seed_template(service, folder / f"{service}.sqlite3")
        return made[service]

    return template


@pytest.fixture
def stage_of(seeded: Callable[[str], Path], tmp_path: Path) -> Iterator[Callable[[str], Stage]]:
    """``stage_of(service)``: that service running for this test, on a copy of its seeded database."""
    with ExitStack() as stack:
        yield lambda service: stack.enter_context(running(service, seeded(service), tmp_path))
