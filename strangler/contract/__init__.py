"""Contract parity: the service is held to the monolith's behaviour with generated traffic.

``python manage.py strangler contract PLAN`` (and the plan's ``contract`` step) generates requests from the
monolith's OpenAPI schema for the endpoints the plan moves, sends each to the monolith and to the service
(both started by the check on scratch copies of their databases, each behind a router of its own), compares
the answers with the router's engine under the plan's rules, and shrinks every kind of difference to its
smallest request. Modules: ``openapi`` (the operations a plan moves), ``generate`` (Hypothesis strategies
for requests), ``schema_values`` (for values of a JSON Schema), ``scratch`` (database copies), ``identities``,
``environment`` (the processes), ``launch`` (what they run), ``traffic`` (sending requests), ``runner``
(explore, shrink), ``check`` (the report), ``gate`` (the plan step), ``testing`` (regression cases), ``cli``.
"""

from __future__ import annotations

from strangler.contract.exceptions import ContractError
from strangler.contract.requests import ContractRequest

__all__ = ["ContractError", "ContractRequest"]
