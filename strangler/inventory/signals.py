"""Signals and their receivers, with the app at both ends: Django's model signals (who listens to whose saves
and deletes), the project's own ``Signal`` objects and the framework's (``user_logged_in``). A receiver in
another app than the sender is work an extraction must turn into an event. Signals are found on the loaded
modules, by identity; one defined in a module named ``signals`` is named after that module."""

from __future__ import annotations

import sys
import weakref
from typing import Any

from django.apps import apps
from django.dispatch import Signal

from strangler.inventory.apps import AppIndex
from strangler.inventory.model import SignalLink

MODEL_SIGNALS_MODULE = "django.db.models.signals"


def signal_links(index: AppIndex) -> list[SignalLink]:
    models_by_id = {id(m): m for m in apps.get_models()}
    found: list[SignalLink] = []
    for dotted, signal in sorted(_signals().items()):
        module, _, name = dotted.rpartition(".")
        for sender_id, receiver in _receivers(signal):
            receiver_name = _dotted(receiver)
            receiver_app = index.label_of(receiver_name)
            if module == MODEL_SIGNALS_MODULE:
                model = models_by_id.get(sender_id)
                sender_app = index.any_label_of(model.__module__) if model is not None else None
                sender = model._meta.label if model is not None else None
                shown = name
            else:
                sender_app, sender, shown = index.any_label_of(module), module, dotted
            if index.label_of(receiver_name) is None and (sender_app is None or sender_app not in index.labels):
                continue   # between framework apps: not the project's
            found.append(SignalLink(shown, sender_app, sender, receiver_name, receiver_app))
    return found


def _signals() -> dict[str, Signal]:
    """Every module-level ``Signal`` of the loaded modules, under the name of the module that defines it
    (the one named ``signals`` when several hold it, else the first by name)."""
    holders: dict[int, tuple[Signal, list[str]]] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None:
            continue
        try:
            items = list(vars(module).items())
        except TypeError:
            continue
        for attr, value in items:
            if issubclass(type(value), Signal):   # type(), not isinstance(): a lazy object must stay lazy
                holders.setdefault(id(value), (value, []))[1].append(f"{module_name}.{attr}")
    named = {}
    for signal, names in holders.values():
        names.sort()
        preferred = [n for n in names if n.rpartition(".")[0].rpartition(".")[2] == "signals"] or names
        named[preferred[0]] = signal
    return named


def _receivers(signal: Signal) -> list[tuple[int, Any]]:
    """(id of the sender it listens to, the receiver) of each live receiver. Django keeps ``(lookup key,
    reference[, is_async])`` per receiver, the key being ``(receiver id, sender id)``."""
    live = []
    for entry in list(signal.receivers):
        key, ref = entry[0], entry[1]
        target = ref() if isinstance(ref, weakref.ReferenceType) else ref
        if target is not None:
            live.append((key[1], target))
    return live


def _dotted(receiver: Any) -> str:
    func = getattr(receiver, "__func__", receiver)
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
