"""Migration plans: one reversible, gated plan per extraction, and the executor that runs it.

``schema`` (the plan file's executor part: service runtime, router, endpoints, steps and their gates),
``state`` (the executor's own small database: where each plan stands, one transaction per transition, and
the lock that refuses a second executor), ``gates`` (figures read from the router, never assumed),
``steps`` (what each step does and how it is undone), ``executor`` (run, rollback, status).
"""
