"""Plans that depend on other plans (``requires:`` in a plan file): the orders' saga reserves stock at the
catalog service and clears carts at the cart service, so the orders' cutover needs both of those cut over, and
neither may be rolled back past its cutover while the orders' stands.

The one rule, in both directions, checked in the transaction that records the cutover's start or its undo's
(:meth:`~strangler.plans.state.StateStore.begin`), so two executors cannot slip past each other (a rollback of
the catalog and the orders' cutover at the same moment: the state database's write lock orders them, and
whichever comes second sees the other's step as begun):

- a plan's **cutover** begins only when every plan it requires is **cut over** (its last completed step is its
  cutover or its decommission, and no undo of it is under way);
- an **undo of a cutover** begins only when no plan that requires this one **stands at or past its own
  cutover** (done, begun, failed half-way or being undone: its writes may be at its service, which calls ours).

What a plan requires is recorded when its cutover begins (``plan_requires``), since the plan being rolled back
does not have the other plans' files. The executor also checks both before it starts (:func:`unmet`,
:func:`blocking`), so a run refused here has not spent minutes on its gates first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

CUT_OVER = ("cutover", "decommission")   # step ids at or past the cutover (a plan's steps are in a fixed order)


def cut_over(done_step: str | None, running: str | None) -> bool:
    """Its cutover done and not being undone."""
    return done_step in CUT_OVER and not (running or "").startswith("undo:")


def at_or_past_cutover(done_step: str | None, running: str | None) -> bool:
    """Its cutover done, begun, failed half-way or being undone: its traffic may be at its service."""
    return done_step in CUT_OVER or (running or "").partition(":")[2] in CUT_OVER


def position(db: sqlite3.Connection, plan: str) -> tuple[str | None, str | None]:
    row = db.execute("SELECT done_step, running FROM plan_state WHERE plan = ?", (plan,)).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _standing(done_step: str | None, running: str | None) -> str:
    return f"stands at {done_step or 'the start'}" + (f", {running}" if running else "")


def _file_of(plan_path: Path | None, name: str) -> str:
    """The other plan's file when it sits beside this one under its own name, else a description."""
    if plan_path is not None:
        sibling = plan_path.parent / f"{name}.yaml"
        if sibling.is_file():
            return str(sibling)
    return f"<the {name} plan's file>"


def unmet(db: sqlite3.Connection, plan: str, requires: Sequence[str], plan_path: Path | None = None) -> str | None:
    """Why ``plan``'s cutover may not begin (a required plan not cut over), or None."""
    for name in requires:
        done_step, running = position(db, name)
        if not cut_over(done_step, running):
            return (f"plan {plan!r} requires plan {name!r} cut over first, and it {_standing(done_step, running)}: "
                    f"run it to its cutover "
                    f"(strangler run {_file_of(plan_path, name)} --to cutover), then this one")
    return None


def blocking(db: sqlite3.Connection, plan: str, plan_path: Path | None = None) -> str | None:
    """Why ``plan``'s cutover may not be undone (a plan requiring it stands at or past its cutover), or None."""
    rows = db.execute("SELECT plan FROM plan_requires WHERE requires = ? AND plan != ? ORDER BY plan",
                      (plan, plan)).fetchall()
    for (dependent,) in rows:
        done_step, running = position(db, dependent)
        if at_or_past_cutover(done_step, running):
            return (f"plan {dependent!r} requires plan {plan!r} cut over, and it {_standing(done_step, running)}: "
                    f"roll it back first "
                    f"(strangler rollback {_file_of(plan_path, dependent)} --to verify), then this one")
    return None


def record(db: sqlite3.Connection, plan: str, requires: Sequence[str]) -> None:
    """What ``plan`` requires, as its file says now (replacing an earlier record)."""
    db.execute("DELETE FROM plan_requires WHERE plan = ?", (plan,))
    db.executemany("INSERT INTO plan_requires (plan, requires) VALUES (?, ?)", [(plan, name) for name in requires])
