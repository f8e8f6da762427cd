"""Generated requests sent to both sides, compared, and every kind of difference shrunk to its smallest request.

Two passes over one Hypothesis strategy, with one seed:

- **explore**: ``examples`` requests are generated (Hypothesis's generate phase only) and each is sent to both
  sides and compared (:class:`Checker`). Nothing fails there: every difference is filed under its *kind*
  (:func:`kinds`) with the first request that showed it.
- **shrink**: the same generation runs again (same seed), now failing on every kind found, each with an
  exception class of its own, so Hypothesis shrinks each kind's request to the smallest one that still shows
  it. Answers are memoised by request, so replaying the exploration sends nothing; only the requests the
  shrinker tries are sent.

A kind is what differs and where: ``GET /api/catalog/products/: status 406 vs 200``, ``GET
/api/catalog/products/: body $.count (value)``, or a header across all operations (``header vary: 'Accept,
Cookie' vs 'Accept'``, since headers are set by middleware, not per endpoint). Two causes that differ the same
way on the same operation share a kind: fixing one shows the other on the next run.

Comparing is the router's engine (``router.compare``), with the plan's rules. What the monolith itself answers
differently to the same request twice (a creation time, a generated id) is noise, not a difference: a request
whose answers differ is sent to the monolith again, and differences at paths where the monolith disagreed
with itself are dropped (Diffy's idea, with the router's ``generalise_path``).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.control import current_build_context
from hypothesis.errors import HypothesisException

from router.compare import Difference, Rules, compare, generalise_path
from strangler.contract.environment import Environment
from strangler.contract.generate import Generation, requests
from strangler.contract.requests import ContractRequest
from strangler.contract.traffic import Answer

if sys.version_info < (3, 11):  # Hypothesis reports several bugs as the backport's group before 3.11
    from exceptiongroup import BaseExceptionGroup

Say = Callable[[str], None]
PROGRESS_EVERY = 250
SHRINK_MIN_SECONDS = 60.0
SHRINK_PER_EXPLORE = 3.0  # shrinking may take this many times as long as exploring did
DRAWS_PER_EXAMPLE = 5  # at most this many draws per example asked for (Hypothesis repeats some requests)


@dataclass(frozen=True)
class Outcome:
    request: ContractRequest
    monolith: Answer
    service: Answer
    differences: tuple[Difference, ...]
    kinds: tuple[str, ...]


def _operation(request: ContractRequest) -> str:
    template = request.operation.split(" ", 1)[1] if " " in request.operation else request.path
    return f"{request.method} {template}"


def kinds(request: ContractRequest, differences: list[Difference]) -> tuple[str, ...]:
    """The kinds of difference ``differences`` show (see the module's text); () when equal."""
    if not differences:
        return ()
    where = _operation(request)
    status = next((d for d in differences if d.kind == "status"), None)
    if status is not None:  # the bodies of two statuses differ anyway: the status is the difference
        return (f"{where}: status {status.expected} vs {status.got}",)
    out = [f"header {d.path.removeprefix('header:')}: {d.expected!r} vs {d.got!r}"
           for d in differences if d.kind == "header"]
    body = next((d for d in differences if d.kind not in ("header", "status", "truncated")), None)
    if body is not None:
        out.append(f"{where}: body {generalise_path(body.path)} ({body.kind})")
    return tuple(out)


class Checker:
    """Sends a request to both sides once (memoised), compares, drops noise, names the kinds."""

    def __init__(self, env: Environment, rules: Rules) -> None:
        self.env, self.rules = env, rules
        self.memo: dict[ContractRequest, Outcome] = {}

    def check(self, request: ContractRequest) -> Outcome:
        known = self.memo.get(request)
        if known is not None:
            return known
        monolith, service = self.env.pair(request)
        if request.writes and self.env.resettable:
            self.env.reset()
        differences = compare(monolith.response, service.response, self.rules)
        if differences:
            differences = self._without_noise(request, monolith, differences)
        outcome = Outcome(request, monolith, service, tuple(differences), kinds(request, differences))
        self.memo[request] = outcome
        return outcome

    def _without_noise(self, request: ContractRequest, first: Answer, differences: list[Difference]
                       ) -> list[Difference]:
        again = self.env.send("monolith", request)
        if request.writes and self.env.resettable:
            self.env.reset()
        noise = {generalise_path(d.path) for d in compare(first.response, again.response, self.rules)}
        if not noise:
            return differences
        return [d for d in differences if not _under(generalise_path(d.path), noise)]


def _under(path: str, noise: set[str]) -> bool:
    return any(path == n or path.startswith(n + ".") or path.startswith(n + "[") for n in noise)


@dataclass
class Finding:
    kind: str
    first: Outcome
    seen: int = 1
    smallest: Outcome | None = None
    also: list[str] = field(default_factory=list)  # other operations showing it (see check.grouped)

    @property
    def best(self) -> Outcome:
        return self.smallest or self.first


@dataclass
class RunStats:
    examples: int = 0  # generated and sent
    pairs: int = 0  # request pairs sent (shrinking and noise checks included)
    explore_seconds: float = 0.0
    shrink_seconds: float = 0.0
    stopped: str | None = None  # why exploration stopped early

    @property
    def pairs_per_second(self) -> float:
        seconds = self.explore_seconds + self.shrink_seconds
        return self.pairs / seconds if seconds else 0.0


class _Enough(Exception):
    """Ends the exploration: enough different requests were checked (or the time is up)."""


class _Found(Exception):
    """Raised inside the shrinking pass when a request shows the kind being shrunk."""


@dataclass
class Run:
    env: Environment
    generation: Generation
    rules: Rules
    examples: int
    seed: int
    deadline: float  # time.monotonic() by which everything must be done
    say: Say = print
    findings: dict[str, Finding] = field(default_factory=dict)
    stats: RunStats = field(default_factory=RunStats)

    def __post_init__(self) -> None:
        self.shrink_until = self.deadline
        self.generated = 0  # draws made by the exploration (repeats included): what the shrink pass replays
        self.checker = Checker(self.env, self.rules)
        self.strategy = requests(self.generation)

    def _settings(self, phases: list[Phase], max_examples: int) -> settings:
        return settings(max_examples=max_examples, deadline=None, database=None, phases=phases,
                        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                        report_multiple_bugs=False, print_blob=False)

    def explore(self) -> None:
        started = time.monotonic()
        sent_before = self.env.sent
        # Shrinking gets a share of the time too: exploration stops early rather than leave it none.
        explore_until = started + (self.deadline - started) * 0.75

        def test(request: ContractRequest) -> None:
            if self.stats.examples >= self.examples:
                raise _Enough  # as many different requests as asked for
            self.generated += 1
            if time.monotonic() > explore_until:
                self.stats.stopped = self.stats.stopped or f"time limit after {self.stats.examples} examples"
                raise _Enough
            if request in self.checker.memo:
                return  # Hypothesis draws some requests more than once; an example is a request not seen before
            outcome = self.checker.check(request)
            self.stats.examples += 1
            for kind in outcome.kinds:
                finding = self.findings.get(kind)
                if finding is None:
                    self.findings[kind] = Finding(kind, outcome)
                    self.say(f"contract: new difference after {self.stats.examples} examples: {kind}")
                else:
                    finding.seen += 1
            if self.stats.examples % PROGRESS_EVERY == 0:
                rate = (self.env.sent - sent_before) / (time.monotonic() - started)
                self.say(f"contract: {self.stats.examples}/{self.examples} examples, {len(self.findings)} kinds of "
                         f"difference, {rate:.0f} pairs/s")

        # Generation only (no shrinking here), so raising _Enough ends it at once.
        options = self._settings([Phase.generate], self.examples * DRAWS_PER_EXAMPLE)
        run = hypothesis_seed(self.seed)(options(given(self.strategy)(test)))
        try:
            run()
        except _Enough:
            pass
        self.stats.explore_seconds = time.monotonic() - started
        self.stats.pairs += self.env.sent - sent_before

    def shrink_all(self) -> None:
        """Shrinks every kind found, all at once: each pending kind fails with an exception class of its own,
        so Hypothesis takes each for a bug of its own and shrinks them side by side in one run (one replay of
        the exploration, not one per kind). A kind that a run did not reach, or that was always shadowed by
        another kind on the same request, is pending again in the next run."""
        started = time.monotonic()
        sent_before = self.env.sent
        # Shrinking gets its own budget, from what exploring took: a service far off the monolith (a hundred
        # kinds) is reported in minutes, the kinds not shrunk by then with their first request.
        self.shrink_until = min(self.deadline, started + max(SHRINK_MIN_SECONDS,
                                                             SHRINK_PER_EXPLORE * self.stats.explore_seconds))
        pending = list(self.findings)
        rounds = 0
        while pending and time.monotonic() < self.shrink_until:
            rounds += 1
            shrunk = self._shrink_round(pending)
            if not shrunk:
                break
            for kind, outcome in shrunk.items():
                self.findings[kind].smallest = outcome
            pending = [k for k in pending if k not in shrunk]
            if pending:
                self.say(f"contract: shrunk {len(shrunk)} kind(s); {len(pending)} left for round {rounds + 1}")
        if pending:
            self.say(f"contract: {len(pending)} kind(s) not shrunk (out of time, or not reached again); their first "
                     "requests are shown")
        self.stats.shrink_seconds = time.monotonic() - started
        self.stats.pairs += self.env.sent - sent_before

    def _shrink_round(self, pending: list[str]) -> dict[str, Outcome]:
        failures = {kind: type(f"Difference{n}", (_Found,), {"kind": kind}) for n, kind in enumerate(pending)}
        smallest: dict[str, Outcome] = {}

        def test(request: ContractRequest) -> None:
            if request not in self.checker.memo and time.monotonic() > self.shrink_until:
                return  # out of time: only what is already known can still fail, so shrinking ends quickly
            outcome = self.checker.check(request)
            kind = next((k for k in pending if k in outcome.kinds), None)
            if kind is not None:
                if current_build_context().is_final:
                    smallest[kind] = outcome
                raise failures[kind](kind)

        # The exploration's draws again (answers memoised), then the shrinker's own.
        options = settings(self._settings([Phase.generate, Phase.shrink], max(self.generated, 1)),
                           report_multiple_bugs=True)
        run = hypothesis_seed(self.seed)(options(given(self.strategy)(test)))
        try:
            run()
        except (_Found, BaseExceptionGroup):
            pass
        except HypothesisException as exc:  # e.g. Flaky: a side that answers differently each time
            self.say(f"contract: shrinking stopped: {type(exc).__name__}: {exc}")
        return smallest

    def report(self) -> dict[str, Any]:
        return {"examples": self.stats.examples, "pairs": self.stats.pairs,
                "seconds": round(self.stats.explore_seconds + self.stats.shrink_seconds, 2),
                "explore_seconds": round(self.stats.explore_seconds, 2),
                "shrink_seconds": round(self.stats.shrink_seconds, 2),
                "pairs_per_second": round(self.stats.pairs_per_second, 1),
                "stopped": self.stats.stopped,
                "kinds": Counter({f.kind: f.seen for f in self.findings.values()})}
