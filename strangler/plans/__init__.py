"""Migration plans: one reversible, gated plan per extraction, and the executor that runs it.

``schema`` (the plan file's executor part: service runtime, router, endpoints, steps and their gates; the
file itself is :mod:`strangler.planfile`, whose ``kinds`` registry says which kinds of step exist),
``state`` (the executor's own small database: where each plan stands, one transaction per transition, and
the lock that refuses a second executor), ``admin`` (the router's admin API), ``gates`` (figures read from
the router, never assumed, and a pure verdict on them), ``steps`` (one class per kind of step: what it does,
how it is undone, its gate), ``cutover`` with ``lease`` and ``hooks`` (the move of ownership under a leased
write freeze), ``executor`` (run, rollback, status, follow), ``checks`` (a plan against the world it will
run in) and ``cli`` (the commands).
"""
