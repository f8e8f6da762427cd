"""``strangler contract PLAN``: the whole check, from the plan to the report, and the plan's gate.

    report = run_contract("migration_plans/catalog.yaml", examples=2000, seed=1)
    report.ok, report.findings[0].best.request.describe(), report.render()

The plan's ``contract`` step (if it has one) gives the settings; the command's options override them. The
comparison rules are the plan's: the contract step's ``ignore`` or, without it, the shadow step's (what the
plan already accepts as no difference), the shadow step's ``unordered`` lists, and the contract step's
``headers``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.compare import Response, Rules
from strangler.contract.environment import Environment
from strangler.contract.exceptions import ContractError
from strangler.contract.generate import Generation
from strangler.contract.openapi import Operation, operations
from strangler.contract.requests import ContractRequest
from strangler.contract.runner import Finding, Outcome, Run, RunStats
from strangler.contract.schema_values import Pools
from strangler.planfile.model import ContractGate, PlanFile, PlanFileInvalid, ShadowGate
from strangler.planfile.reader import read_plan_file

Say = Callable[[str], None]
MAX_POOL = 60
WORD = re.compile(r"[^\W\d_]{3,}")


def plan_gate(plan: PlanFile) -> ContractGate:
    """The plan's contract step's settings, or the defaults when it has none."""
    for step in plan.steps:
        if step.kind == "contract":
            spec: ContractGate = step.spec
            return spec
    return ContractGate()


def rules_for(plan: PlanFile, gate: ContractGate) -> Rules:
    shadow: ShadowGate | None = next((s.spec for s in plan.steps if s.kind == "shadow"), None)
    ignore = gate.ignore if gate.ignore is not None else (shadow.ignore if shadow else [])
    return Rules(ignore_paths=tuple(ignore), unordered_lists=tuple(shadow.unordered if shadow else ()),
                 compared_headers=tuple(gate.headers))


def harvest(env: Environment, ops: list[Operation]) -> Pools:
    """Ids, field values, keys and words from the monolith's own answers to the collections' GETs (as staff,
    who sees everything), so generated requests meet the data that is there."""
    ids: dict[str, list[str]] = {}
    fields: dict[str, list[Any]] = {}
    keys: dict[str, None] = {}
    words: dict[str, None] = {}
    for op in ops:
        if op.method != "GET" or op.path_params:
            continue
        try:
            data = env.get_json(op.template)
        except ContractError:
            continue
        items = data.get("results") if isinstance(data, dict) else data
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("id"), int | str):
                ids.setdefault(op.template, []).append(str(item["id"]))
            for key, value in item.items():
                keys.setdefault(key, None)
                if isinstance(value, bool | int | float | str) or value is None:
                    seen = fields.setdefault(key, [])
                    if value not in seen and len(seen) < MAX_POOL:
                        seen.append(value)
                if isinstance(value, str):
                    for word in WORD.findall(value):
                        if len(words) < MAX_POOL:
                            words.setdefault(word.lower(), None)
    return Pools(ids={k: tuple(v) for k, v in ids.items()}, fields={k: tuple(v) for k, v in fields.items()},
                 keys=tuple(keys), words=tuple(words))


def framework_parameters() -> tuple[dict[str, tuple[str, ...]], str, str]:
    """Query parameters the framework adds to every endpoint (DRF's ``format``), and its ordering and search
    parameter names."""
    try:
        from rest_framework.settings import api_settings
    except ImportError:
        return {}, "ordering", "search"
    extra: dict[str, tuple[str, ...]] = {}
    if api_settings.URL_FORMAT_OVERRIDE:
        extra[str(api_settings.URL_FORMAT_OVERRIDE)] = ("json", "api", "xml", "html", "yaml")
    return extra, str(api_settings.ORDERING_PARAM), str(api_settings.SEARCH_PARAM)


@dataclass
class ContractReport:
    plan: str
    seed: int
    examples_asked: int
    max_differences: int
    operations: list[str]
    identities: str
    isolation: str
    writes: bool
    monolith_url: str
    service_url: str
    host: str
    stats: RunStats
    findings: list[Finding] = field(default_factory=list)
    credentials: Any = None
    rules: dict[str, Any] = field(default_factory=dict)
    accepted: list[Finding] = field(default_factory=list)  # found, but accepted by the plan for now

    @property
    def ok(self) -> bool:
        return len(self.findings) <= self.max_differences

    def curl_pair(self, request: ContractRequest) -> tuple[str, str]:
        mono = self.credentials.placeholder(request.identity) if self.credentials else None
        service = None
        if mono is not None and request.identity not in ("bad-token", "revoked-token"):
            variable = "$" + request.identity.upper() + "_IDENTITY_TOKEN"
            service = ("X-Identity-Token", variable)
        elif mono is not None:
            service = mono
        host = () if request.header("host") else (("Host", self.host),)
        shown = ContractRequest(request.method, request.path, request.operation, request.query, request.identity,
                                host + request.headers, request.body)
        return shown.curl(self.monolith_url, mono), shown.curl(self.service_url, service)

    def pytest_case(self, finding: Finding) -> str:
        outcome = finding.best
        request = outcome.request
        summary = _first_difference(outcome)
        return "\n".join([
            f"def {request.test_name()}(contract_env: ContractEnv) -> None:",
            f'    """{finding.kind} (strangler contract {self.plan} --seed {self.seed}).',
            "",
            f"    {_clip(summary, 100)}",
            '    """',
            f"    contract_env.assert_same({request.source()})",
        ])

    def to_dict(self) -> dict[str, Any]:
        findings = []
        for finding in self.findings:
            best = finding.best
            mono, svc = self.curl_pair(best.request)
            findings.append({
                "kind": finding.kind, "seen": finding.seen, "shrunk": finding.smallest is not None,
                "also": finding.also,
                "request": best.request.describe(), "first_request": finding.first.request.describe(),
                "differences": [d.as_dict() for d in best.differences[:10]],
                "monolith": _answer(best.monolith.response), "service": _answer(best.service.response),
                "curl": {"monolith": mono, "service": svc}, "pytest": self.pytest_case(finding),
            })
        return {"plan": self.plan, "ok": self.ok, "seed": self.seed, "examples": self.stats.examples,
                "examples_asked": self.examples_asked, "pairs": self.stats.pairs,
                "seconds": round(self.stats.explore_seconds + self.stats.shrink_seconds, 2),
                "explore_seconds": round(self.stats.explore_seconds, 2),
                "shrink_seconds": round(self.stats.shrink_seconds, 2),
                "pairs_per_second": round(self.stats.pairs_per_second, 1), "stopped": self.stats.stopped,
                "operations": self.operations, "identities": self.identities, "isolation": self.isolation,
                "writes": self.writes, "rules": self.rules, "max_differences": self.max_differences,
                "differences": len(self.findings), "findings": findings,
                "accepted": [{"kind": f.kind, "seen": f.seen, "request": f.best.request.describe()}
                             for f in self.accepted]}

    def render(self) -> str:
        data = self.to_dict()
        lines = [f"contract {self.plan}: {len(self.operations)} operations, {data['examples']} examples "
                 f"(seed {self.seed}), {data['pairs']} request pairs in {data['seconds']:.1f}s = "
                 f"{data['pairs_per_second']:.1f} pairs/s (exploring {data['explore_seconds']:.1f}s, shrinking "
                 f"{data['shrink_seconds']:.1f}s)",
                 f"  identities: {self.identities}; isolation: {self.isolation}"]
        if self.stats.stopped:
            lines.append(f"  stopped early: {self.stats.stopped}")
        if not self.findings:
            lines.append("  no difference found")
        for number, (finding, shown) in enumerate(zip(self.findings, data["findings"], strict=True), 1):
            best = finding.best
            lines += ["", f"{number}. {finding.kind}  (in {finding.seen} of {data['examples']} examples"
                      + (")" if finding.smallest else "; not shrunk)")]
            if finding.also:
                lines.append(f"   also on: {', '.join(finding.also)}")
            lines += [f"   smallest request: {best.request.describe()}",
                      f"   monolith {_status_line(best.monolith.response)}",
                      f"   service  {_status_line(best.service.response)}"]
            lines += [f"   {_clip(str(d), 160)}" for d in best.differences[:5]]
            lines += ["   reproduce (monolith, then service):", f"     {shown['curl']['monolith']}",
                      f"     {shown['curl']['service']}", "   as a regression case:"]
            lines += [f"     {line}" if line else "" for line in shown["pytest"].splitlines()]
        if any(f.best.request.identity in ("user", "staff") for f in self.findings):
            lines += ["", "  $USER_TOKEN/$STAFF_TOKEN: a user's and a staff member's credential on the monolith; "
                          "$USER_IDENTITY_TOKEN/$STAFF_IDENTITY_TOKEN: the router's identity token for them "
                          "(X-Identity-Token)"]
        for finding in self.accepted:
            lines += ["", f"accepted by the plan: {finding.kind}  (in {finding.seen} examples; smallest request: "
                          f"{finding.best.request.describe()})"]
        verdict = "OK" if self.ok else "FAILED"
        lines += ["", f"{verdict}: {len(self.findings)} kind(s) of difference (at most {self.max_differences} "
                      "allowed)"]
        return "\n".join(lines)


def _cause(finding: Finding) -> tuple[Any, ...]:
    """What a finding's smallest request shows apart from where it was sent: the same difference (a status
    pair, a body path) with the same identity, headers, query parameter names and body presence on another
    operation is very likely the same cause (a refusal made before the endpoint is reached)."""
    request = finding.best.request
    what = finding.kind.split(": ", 1)[1] if finding.kind[:1].isupper() and ": " in finding.kind else finding.kind
    return (what, request.identity, tuple(sorted(k.lower() for k, _ in request.headers)),
            tuple(sorted({k for k, _ in request.query})), request.body is not None)


def split_accepted(findings: list[Finding], accept: list[str]) -> tuple[list[Finding], list[Finding]]:
    """(the findings that count, those the plan accepts for now by their kind)."""
    wanted = set(accept)
    return [f for f in findings if f.kind not in wanted], [f for f in findings if f.kind in wanted]


def grouped(findings: list[Finding]) -> list[Finding]:
    """Findings of one likely cause on several operations as one (the smallest request shown; the other
    operations listed in ``also``), most often seen first."""
    groups: dict[tuple[Any, ...], list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_cause(finding), []).append(finding)
    out = []
    for members in groups.values():
        members.sort(key=lambda f: (len(f.best.request.describe()), f.kind))
        head = members[0]
        head.also = [f.kind.split(": ", 1)[0] for f in members[1:]]
        head.seen = sum(f.seen for f in members)
        out.append(head)
    return sorted(out, key=lambda f: -f.seen)


def _first_difference(outcome: Outcome) -> str:
    return str(outcome.differences[0]) if outcome.differences else "equal"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _answer(response: Response) -> dict[str, Any]:
    return {"status": response.status, "body": response.body[:500].decode("utf-8", "replace")}


def _status_line(response: Response) -> str:
    body = response.body[:120].decode("utf-8", "replace").replace("\n", " ")
    return f"{response.status}: {body}" + ("..." if len(response.body) > 120 else "")


def run_contract(plan_path: str | Path, *, examples: int | None = None, seed: int | None = None,
                 say: Say = print, root: Path | None = None, keep: bool = False,
                 service_env: dict[str, str] | None = None, timeout: float | None = None,
                 identities: list[str] | None = None) -> ContractReport:
    """Runs the contract check of the plan at ``plan_path`` (see the package's text); the arguments given
    override the plan's contract step."""
    from strangler.project import project_root

    try:
        plan = read_plan_file(plan_path)
    except PlanFileInvalid as exc:
        raise ContractError("\n".join(exc.lines())) from None
    gate = plan_gate(plan)
    if identities:
        gate = gate.model_copy(update={"identities": identities})
    examples = examples or gate.examples
    seed = seed if seed is not None else (gate.seed if gate.seed is not None else random.randrange(2**31))  # noqa: S311 - a seed, not a secret
    deadline = time.monotonic() + (timeout or gate.timeout)
    rules = rules_for(plan, gate)
    with Environment(plan, gate, root=root or project_root(), say=say, keep=keep, service_env=service_env) as env:
        ops = operations(env.schema(), env.covered)
        if not ops:
            raise ContractError(f"no operation of the monolith's schema is on the plan's routes "
                                f"({', '.join(env.moved)})")
        extra, ordering, search = framework_parameters()
        writes = env.resettable and gate.writes
        generation = Generation(tuple(ops), harvest(env, ops), host=env.host, extra_query=extra,
                                ordering_param=ordering, search_param=search, writes=writes,
                                identities=tuple(gate.identities))
        say(f"contract: {len(ops)} operations on routes {', '.join(env.moved)}; {examples} examples, seed {seed}")
        run = Run(env, generation, rules, examples, seed, deadline, say)
        run.explore()
        run.shrink_all()
        scheme = env.credentials.scheme if env.credentials else "none"
        kinds = " and ".join(sorted({d.kind for d in env.databases}))
        isolation = (f"scratch copies of both databases ({kinds}), reset after every write" if writes else
                     f"scratch copies of both databases ({kinds}); safe methods only "
                     f"({env.reset_problem if not env.resettable else 'the plan says writes: false'})")
        counted, accepted = split_accepted(list(run.findings.values()), gate.accept)
        findings = grouped(counted)
        return ContractReport(
            plan=str(plan_path), seed=seed, examples_asked=examples, max_differences=gate.max_differences,
            operations=[o.name for o in ops],
            identities=f"{', '.join(gate.identities)} ({scheme}s, through a router on each side)",
            isolation=isolation, writes=writes, monolith_url=env.real_monolith_url(),
            service_url=env.real_service_url(), host=env.host, stats=run.stats, findings=findings,
            credentials=env.credentials, rules=rules.as_dict(), accepted=accepted)
