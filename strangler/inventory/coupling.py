"""From what the project holds to what an extraction needs: each app's dependencies, what blocks moving it,
the groups that can only move together, and the order, least coupled first.

Only foreign keys order the extraction: an app whose tables reference another app's tables moves after it
(its service keeps those ids, and the rows they point at must already be the other service's). Signals and
imports do not order it, since either can become an event or an API call whichever side moves first; they
weigh in the coupling that breaks ties and are listed as work. Apps whose foreign keys form a circle are one
seam and move together. Two apps stay out of the order: the project's core (the app that holds the root
URLconf: shared code and the URLconf stay in the monolith) and the identity app (the one serving
``LOGIN_URL``, or holding a project ``AUTH_USER_MODEL``), which moves last because the router's identity
bridge asks it who each caller is until it does.
"""

from __future__ import annotations

from collections import defaultdict

from strangler.inventory.model import AppReport, ImportLink, Relation, SignalLink

WEIGHTS = {"relation": 3, "signal": 2, "import": 1}


def dependencies(movable: set[str], relations: list[Relation]) -> dict[str, set[str]]:
    deps: dict[str, set[str]] = {app: set() for app in movable}
    for r in relations:
        if r.app in movable and r.to_app in movable and r.to_app != r.app:
            deps[r.app].add(r.to_app)
    return deps


def weights(movable: set[str], relations: list[Relation], signals: list[SignalLink],
            imports: list[ImportLink]) -> dict[tuple[str, str], int]:
    """Weighted links between movable apps, both directions counted under the (a, b) pair a -> b."""
    w: dict[tuple[str, str], int] = defaultdict(int)
    for r in relations:
        if r.app in movable and r.to_app in movable and r.to_app != r.app:
            w[(r.app, r.to_app)] += WEIGHTS["relation"]
    for s in signals:
        if s.receiver_app in movable and s.sender_app in movable and s.crosses:
            w[(s.receiver_app, s.sender_app)] += WEIGHTS["signal"]
    for i in imports:
        if i.app in movable and i.to_app in movable:
            w[(i.app, i.to_app)] += WEIGHTS["import"] * i.modules
    return dict(w)


def seams(deps: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of the dependency graph (Tarjan), each sorted: apps that must move
    together because their foreign keys form a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(app: str) -> None:
        index[app] = low[app] = len(index)
        stack.append(app)
        on_stack.add(app)
        for dep in sorted(deps[app]):
            if dep not in index:
                visit(dep)
                low[app] = min(low[app], low[dep])
            elif dep in on_stack:
                low[app] = min(low[app], index[dep])
        if low[app] == index[app]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == app:
                    break
            found.append(sorted(group))

    for app in sorted(deps):
        if app not in index:
            visit(app)
    return found


def order(deps: dict[str, set[str]], link_weights: dict[tuple[str, str], int]) -> list[list[str]]:
    """The seams in extraction order: a seam is ready when every app it depends on has moved; of the ready
    ones the least coupled (weighted links to every other app, both ways) goes first."""
    groups = seams(deps)
    of = {app: i for i, group in enumerate(groups) for app in group}
    coupling: dict[int, int] = defaultdict(int)
    for (a, b), weight in link_weights.items():
        coupling[of[a]] += weight
        coupling[of[b]] += weight
    moved: set[int] = set()
    result: list[list[str]] = []
    while len(moved) < len(groups):
        ready = [i for i in range(len(groups)) if i not in moved and
                 all(of[d] in moved or of[d] == i for app in groups[i] for d in deps[app])]
        pick = min(ready, key=lambda i: (coupling[i], groups[i]))
        moved.add(pick)
        result.append(groups[pick])
    return result


def blockers(app: str, relations: list[Relation], signals: list[SignalLink], imports: list[ImportLink],
             core: str | None) -> list[str]:
    """What must change before ``app`` moves, in words: rows elsewhere that point at its tables, its rows that
    point elsewhere, signals across its border, code that calls across it."""
    if app == core:
        return []   # it stays: the URLconf and the shared code are the monolith's
    out = []
    for r in relations:
        target = f"{r.to_app}.{r.to_model}" if r.to_app else "any model"
        if r.to_app == app and r.app != app:
            out.append(f"inbound {r.kind} {r.app}.{r.model}.{r.field} -> {target}"
                       f"{f' ({r.on_delete})' if r.on_delete else ''}: {r.app}'s table keeps {r.to_model} ids; "
                       f"reads need a snapshot or the service's API"
                       + (f"; a delete must ask {r.app} first (409 while referenced)"
                          if r.on_delete == "PROTECT" else ""))
        elif r.app == app and r.crosses:
            out.append(f"outbound {r.kind} {r.app}.{r.model}.{r.field} -> {target}: the service keeps the ids "
                       f"(no foreign key across databases)")
    for s in signals:
        if s.crosses and app in (s.sender_app, s.receiver_app):
            out.append(f"signal {s.signal} ({s.sender_app or 'any app'}) -> {s.receiver} ({s.receiver_app}): "
                       f"becomes an event (transactional outbox) once either side moves")
    for i in imports:
        if i.to_app == app and i.app != core:
            out.append(f"{i.app} imports {app} ({_pairs(i.modules)}, e.g. {i.example}): calls that become requests "
                       f"through a gateway")
        elif i.app == app and i.to_app == core:
            out.append(f"{app} uses the project's shared code ({_pairs(i.modules)}, e.g. {i.example}): the "
                       f"service gets its own copy")
    return out


def _pairs(n: int) -> str:
    return f"{n} module pair{'s' if n != 1 else ''}"


def reports(labels: dict[str, str], movable: set[str], deps: dict[str, set[str]],
            link_weights: dict[tuple[str, str], int]) -> dict[str, AppReport]:
    out = {label: AppReport(app=label, module=module) for label, module in labels.items()}
    for app, needed in deps.items():
        out[app].depends_on = sorted(needed)
        for dep in needed:
            out[dep].depended_on_by.append(app)
    for (a, b), weight in link_weights.items():
        out[a].coupling += weight
        out[b].coupling += weight
    for report in out.values():
        report.depended_on_by.sort()
    return out
