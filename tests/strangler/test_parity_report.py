"""``strangler parity report``: per-route parity from the router's shadow store (written here by the router's
own ParityStore, as a running router would)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from router.compare import Response, compare
from router.parity.store import ParityRow, ParityStore, stored_differences
from strangler.parity.shadow_report import parse_since


def row(route: str, outcome: str, at: float, paths: tuple[str, ...] = (),
        status: tuple[int, int] = (200, 200)) -> ParityRow:
    differences = tuple({"path": p, "kind": "value", "expected": 1, "got": 2} for p in paths)
    return ParityRow(at=at, route=route, method="GET", target=f"/{route}/?page=1", request_id=f"r-{at}",
                     primary_status=status[0], shadow_status=None if outcome == "error" else status[1],
                     outcome=outcome, differences=differences, primary_ms=3.0, shadow_ms=4.0,
                     error="connection refused" if outcome == "error" else None)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "var" / "parity.sqlite3"
    writer = ParityStore(path)
    writer.start()
    now = time.time()
    old = now - 3 * 86400
    for i in range(8):
        writer.record(row("catalog", "equal", now - i))
    writer.record(row("catalog", "different", now, ("$.results[3].price", "$.count")))
    writer.record(row("catalog", "different", now, ("$.results[7].price",)))
    writer.record(row("catalog", "error", now))
    writer.record(row("cart", "different", old, ("$.total",)))
    writer.record(row("cart", "equal", now))
    writer.close()
    return path


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("strangler", "parity", "report", *args, stdout=out)
    return out.getvalue()


def test_the_report_shows_parity_per_route_and_frequent_paths(store: Path) -> None:
    text = run("--store", str(store))
    lines = text.splitlines()
    catalog = next(line for line in lines if line.startswith("catalog "))
    assert catalog.split() == ["catalog", "10", "8", "2", "1", "80.00%"]
    cart = next(line for line in lines if line.startswith("cart "))
    assert cart.split() == ["cart", "2", "1", "1", "0", "50.00%"]
    assert any(line.split() == ["all", "12", "9", "3", "1", "75.00%"] for line in lines)
    assert "2  $.results[*].price" in text
    assert "1  $.count" in text


def test_json_output_with_route_and_since_filters(store: Path) -> None:
    report = json.loads(run("--store", str(store), "--json", "--route", "cart"))
    assert [r["route"] for r in report["routes"]] == ["cart"]
    assert report["routes"][0]["top_paths"] == [{"path": "$.total", "count": 1}]
    recent = json.loads(run("--store", str(store), "--json", "--since", "1d"))
    cart = next(r for r in recent["routes"] if r["route"] == "cart")
    assert (cart["compared"], cart["equal"], cart["different"], cart["rate"]) == (1, 1, 0, 1.0)
    catalog = next(r for r in recent["routes"] if r["route"] == "catalog")
    assert (catalog["compared"], catalog["errors"], catalog["rate"]) == (10, 1, 0.8)
    assert catalog["top_paths"][0] == {"path": "$.results[*].price", "count": 2}


def test_latest_differences(store: Path) -> None:
    report = json.loads(run("--store", str(store), "--json", "--latest", "2", "--route", "catalog"))
    assert len(report["latest"]) == 2 and all(r["outcome"] != "equal" for r in report["latest"])
    assert "latest differences" in run("--store", str(store), "--latest", "3")


def test_the_store_can_be_found_through_the_routes_file(store: Path) -> None:
    routes = store.parent.parent / "routes.yaml"
    routes.write_text("default: m\nbackends: {m: {targets: 'http://m.test'}}\nparity: {store: var/parity.sqlite3}\n")
    assert json.loads(run("--routes", str(routes), "--json"))["total"]["compared"] == 12


def test_a_missing_store_or_a_bad_since_is_a_clear_error(tmp_path: Path, store: Path) -> None:
    with pytest.raises(CommandError, match="no parity store"):
        run("--store", str(tmp_path / "nowhere.sqlite3"))
    with pytest.raises(CommandError, match="--since: 'yesterday'"):
        run("--store", str(store), "--since", "yesterday")
    not_sqlite = tmp_path / "junk.sqlite3"
    not_sqlite.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CommandError, match="cannot read the parity store"):
        run("--store", str(not_sqlite))


def test_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    writer = ParityStore(path)
    writer.start()
    writer.close()
    assert "no comparisons recorded" in run("--store", str(path))


def test_parse_since() -> None:
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("2024-01-01T00:00:00") == 1704067200.0
    assert parse_since(None) is None


def test_rows_from_the_engine_round_trip(tmp_path: Path) -> None:
    found = compare(Response.json({"a": 1, "big": "x" * 2000}), Response.json({"a": 2, "big": "y" * 2000}))
    differences = stored_differences(found)
    assert [d["path"] for d in differences] == ["$.a", "$.big"]
    assert len(differences[1]["expected"]) < 600  # long values are cut
    path = tmp_path / "p.sqlite3"
    writer = ParityStore(path, max_rows=3)
    writer.start()
    for i in range(5):
        writer.record(ParityRow(at=time.time(), route="r", method="GET", target="/", request_id=str(i),
                                primary_status=200, shadow_status=200, outcome="different",
                                differences=differences))
    writer.flush()
    writer.prune()
    writer.close()
    report = json.loads(run("--store", str(path), "--json"))
    assert report["routes"][0]["compared"] == 3  # bounded: max_rows newest kept
    assert report["routes"][0]["top_paths"] == [{"path": "$.a", "count": 3}, {"path": "$.big", "count": 3}]
