"""Parity: recording real traffic (mitmproxy), replaying it against a target, comparing the answers.

The comparing itself is the router's (:mod:`router.compare`); this package records, replays and reports.
Modules: ``redaction`` (secrets out of flows), ``recorder`` (the mitmproxy addon), ``record`` (running
mitmdump), ``flows`` (reading flow files into requests), ``replay`` (sending and comparing), ``outcomes``
(the replay's results: table, JSON, JUnit XML), ``exceptions``; ``shadow_report``
(``strangler parity report``, from the router's shadow store).
"""
