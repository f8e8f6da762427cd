"""Parity: comparing two HTTP answers to one request (the response comparison engine), and the shadow's store.

The engine is pure data and functions, no I/O or event loop (``store.py`` alone writes and reads SQLite),
and uses nothing else of the router but its schema base (``router.validation``): the router's shadow,
``strangler``'s replay and contract check, and the regression suite all use it. ``router.compare`` is the
engine's public face (import from there).

    answers.py      Response (one HTTP answer), Difference, header helpers
    jsonpath.py     JSON paths: parse_path, format_path, generalise_path
    rules.py        Rules, the one rule model (RulesSpec) and its loader (routes.yaml, replay's --rules)
    engine.py       compare(), compare_bodies(), compare_json()
    calibration.py  Calibrator: learning which paths differ on their own
    exceptions.py   PathError, RulesError
    store.py        the parity store: one SQLite row per shadow comparison; summarise(), latest()
"""
