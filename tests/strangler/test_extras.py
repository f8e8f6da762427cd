"""A missing extra is a message naming what to install."""

from __future__ import annotations

import pytest

from strangler import extras


def test_a_missing_extra_names_the_pip_install_that_brings_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(extras.EXTRAS, "split", ("sqlalchemy", "no_such_module_here"))
    with pytest.raises(extras.MissingExtra) as err:
        extras.require("split", "`strangler split`")
    assert str(err.value) == ("`strangler split` needs no_such_module_here, which is not installed: "
                              "pip install 'strangler-toolkit[split]'")
    extras.require("router", "the router")   # installed here: no error
