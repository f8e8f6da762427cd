"""What a replay found, request by request, and its three renderings: a table, JSON and JUnit XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from router.compare import Difference

Kind = Literal["equal", "different", "error", "skipped"]
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.IGNORECASE)


def route_group(method: str, path: str) -> str:
    """``GET /api/catalog/products/17/?x=1`` -> ``GET /api/catalog/products/{id}/``: the summary's rows."""
    bare = path.split("?", 1)[0]
    return f"{method} " + "/".join("{id}" if _ID_SEGMENT.match(s) else s for s in bare.split("/"))


@dataclass
class RequestOutcome:
    index: int
    method: str
    path: str
    kind: Kind
    group: str = ""
    expected_status: int | None = None
    got_status: int | None = None
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None  # kind "error": what failed; kind "skipped": why
    elapsed_ms: float | None = None

    def __post_init__(self) -> None:
        self.group = self.group or route_group(self.method, self.path)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "method": self.method, "path": self.path, "group": self.group,
                "outcome": self.kind, "expected_status": self.expected_status, "got_status": self.got_status,
                "differences": [d.as_dict() for d in self.differences], "reason": self.error,
                "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 2)}


@dataclass
class ReplayReport:
    source: str
    against: str
    baseline: str | None
    rules: dict[str, Any]
    outcomes: list[RequestOutcome]
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def count(self, kind: Kind) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)

    @property
    def ok(self) -> bool:
        """No unexplained difference and no error (skipped requests are counted, not failed)."""
        return not any(o.kind in ("different", "error") for o in self.outcomes)

    def totals(self) -> dict[str, int]:
        sent = sum(1 for o in self.outcomes if o.kind != "skipped")
        return {"recorded": len(self.outcomes), "sent": sent, "equal": self.count("equal"),
                "different": self.count("different"), "errors": self.count("error"),
                "skipped": self.count("skipped")}

    def groups(self) -> OrderedDict[str, dict[str, int]]:
        rows: OrderedDict[str, dict[str, int]] = OrderedDict()
        for o in sorted(self.outcomes, key=lambda o: o.group):
            row = rows.setdefault(o.group, {"sent": 0, "equal": 0, "different": 0, "errors": 0, "skipped": 0})
            if o.kind != "skipped":
                row["sent"] += 1
            row[{"equal": "equal", "different": "different", "error": "errors", "skipped": "skipped"}[o.kind]] += 1
        return rows

    def skip_reasons(self) -> dict[str, int]:
        reasons: dict[str, int] = {}
        for o in self.outcomes:
            if o.kind == "skipped" and o.error:
                reasons[o.error] = reasons.get(o.error, 0) + 1
        return reasons

    # -- renderings -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "against": self.against, "baseline": self.baseline,
                "compared_with": "baseline" if self.baseline else "recording", "ok": self.ok,
                "totals": self.totals(), "skipped_because": self.skip_reasons(), "groups": self.groups(),
                "rules": self.rules, "duration_s": round(self.duration_s, 3), "notes": self.notes,
                "requests": [o.to_dict() for o in self.outcomes]}

    def write_json(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n")

    def junit(self) -> ET.ElementTree:
        totals = self.totals()
        suite = ET.Element("testsuite", {
            "name": f"strangler replay {self.source} against {self.against}",
            "tests": str(totals["recorded"]), "failures": str(totals["different"]),
            "errors": str(totals["errors"]), "skipped": str(totals["skipped"]), "time": f"{self.duration_s:.3f}",
        })
        props = ET.SubElement(suite, "properties")
        for name, value in (("against", self.against), ("baseline", self.baseline or ""), ("source", self.source)):
            ET.SubElement(props, "property", {"name": name, "value": value})
        for o in self.outcomes:
            case = ET.SubElement(suite, "testcase", {
                "classname": o.group, "name": f"#{o.index} {o.method} {o.path}",
                "time": f"{(o.elapsed_ms or 0) / 1000:.3f}"})
            if o.kind == "different":
                failure = ET.SubElement(case, "failure", {
                    "type": "difference", "message": f"{len(o.differences)} difference(s): "
                    + "; ".join(_xml_safe(str(d)) for d in o.differences[:3])})
                failure.text = "\n".join(_xml_safe(str(d)) for d in o.differences)
            elif o.kind == "error":
                ET.SubElement(case, "error", {"type": "request", "message": _xml_safe(o.error or "failed")})
            elif o.kind == "skipped":
                ET.SubElement(case, "skipped", {"message": _xml_safe(o.error or "skipped")})
        wrapper = ET.Element("testsuites")
        wrapper.append(suite)
        ET.indent(wrapper)
        return ET.ElementTree(wrapper)

    def write_junit(self, path: Path | str) -> None:
        self.junit().write(path, encoding="utf-8", xml_declaration=True)

    def render(self, console: Any, *, max_listed: int = 20) -> None:
        """The summary table (rich) per route group, then the first differences and errors."""
        from rich.table import Table

        versus = f"baseline {self.baseline}" if self.baseline else "the recording"
        table = Table(title=f"replay of {self.source} against {self.against}, compared with {versus}")
        table.add_column("route")
        for name in ("sent", "equal", "different", "errors", "skipped"):
            table.add_column(name, justify="right")
        for group, row in self.groups().items():
            style = "red" if row["different"] or row["errors"] else None
            table.add_row(group, *(str(row[k]) for k in ("sent", "equal", "different", "errors", "skipped")),
                          style=style)
        t = self.totals()
        table.add_row("total", *(str(t[k]) for k in ("sent", "equal", "different", "errors", "skipped")),
                      style="bold", end_section=True)
        console.print(table)
        for reason, count in self.skip_reasons().items():
            console.print(f"skipped {count}: {reason}")
        for note in self.notes:
            console.print(note)
        bad = [o for o in self.outcomes if o.kind in ("different", "error")]
        for o in bad[:max_listed]:
            console.print(f"[red]#{o.index} {o.method} {o.path}[/red]", markup=True, highlight=False)
            if o.kind == "error":
                console.print(f"    error: {o.error}", markup=False, highlight=False)
            for d in o.differences[:5]:
                console.print(f"    {d}", markup=False, highlight=False)
            if len(o.differences) > 5:
                console.print(f"    ... {len(o.differences) - 5} more", markup=False)
        if len(bad) > max_listed:
            console.print(f"... {len(bad) - max_listed} more requests differ or failed (see the JSON report)")
        verdict = "[green]OK[/green]" if self.ok else "[red]DIFFERENCES[/red]"
        console.print(f"{verdict}: {t['equal']} equal, {t['different']} different, {t['errors']} errors, "
                      f"{t['skipped']} skipped of {t['recorded']} recorded ({self.duration_s:.1f}s)")


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _XML_BAD.sub("?", text)
