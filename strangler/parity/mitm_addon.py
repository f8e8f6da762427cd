"""The script mitmdump loads (``mitmdump -s strangler/parity/mitm_addon.py``): one :class:`Recorder`.

It needs the directory holding the ``strangler`` package on ``PYTHONPATH``; ``strangler record`` sets it.
"""

from strangler.parity.recorder import Recorder

addons = [Recorder()]
