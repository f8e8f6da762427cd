"""``python -m router serve --workers N``: the primary's side (``primary``, ``supervisor``), a worker's
(``child``), and the control channel between them (``channel``)."""
