"""The errors of the parity tools (record and replay); the command turns each into a message and exit 2.

::

    ParityError                     anything the parity tools refuse or cannot do
    ├── RecordError                 recording could not start or mitmdump failed
    ├── FlowFileError               a flow file is missing, unreadable or not mitmproxy's format
    └── ReplayError                 replay refused or could not run
        └── UnsafeReplay            writes requested against a target not declared disposable
"""

from __future__ import annotations


class ParityError(Exception):
    """Anything the parity tools refuse or cannot do; the message says what and why."""


class RecordError(ParityError):
    """Recording could not start (bad upstream, port taken, mitmdump missing) or mitmdump failed."""


class FlowFileError(ParityError):
    """A flow file is missing, unreadable or not in mitmproxy's flow format."""


class ReplayError(ParityError):
    """Replay was refused or could not run (bad target URL, bad rules file)."""


class UnsafeReplay(ReplayError):
    """Writes were asked for against a target that was not declared disposable."""
