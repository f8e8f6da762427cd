"""Which installed apps are the project's own (the ones an extraction moves), and which app a dotted name
belongs to.

An app is the project's when its code lives under the project's root (``settings.BASE_DIR``, else the current
directory) and not in an installed distribution; Django's own and third-party apps are left out, and so is
the toolkit itself. Apps nest (``shop`` and ``shop.orders``): a module belongs to the longest app name that
is its prefix.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from django.apps import AppConfig, apps

from strangler.inventory.exceptions import InventoryError
from strangler.project import project_root

TOOLKIT = "strangler"


def _installed_elsewhere(path: Path) -> bool:
    places = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    return any(path.is_relative_to(Path(p).resolve()) for p in places)


def project_apps(labels: list[str] | None = None) -> list[AppConfig]:
    """The project's apps (or exactly those named, by label), in INSTALLED_APPS order."""
    if labels:
        chosen = []
        for label in labels:
            try:
                chosen.append(apps.get_app_config(label))
            except LookupError:
                known = ", ".join(sorted(c.label for c in apps.get_app_configs()))
                raise InventoryError(f"--apps: no installed app labelled {label!r} (installed: {known})") from None
        return chosen
    root = project_root().resolve()
    found = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if config.name.split(".")[0] == TOOLKIT or not path.is_relative_to(root) or _installed_elsewhere(path):
            continue
        found.append(config)
    return found


class AppIndex:
    """Maps a dotted module name to the label of the project app that holds it (None: not a project app)."""

    def __init__(self, configs: list[AppConfig]) -> None:
        self.by_name = {c.name: c.label for c in configs}
        self.labels = frozenset(self.by_name.values())
        self._names = sorted(self.by_name, key=len, reverse=True)

    def label_of(self, dotted: str | None) -> str | None:
        if not dotted:
            return None
        for name in self._names:
            if dotted == name or dotted.startswith(name + "."):
                return self.by_name[name]
        return None

    def any_label_of(self, dotted: str | None) -> str | None:
        """The project app's label, else the label of whichever installed app holds it (``auth``, ``admin``)."""
        label = self.label_of(dotted)
        if label is not None or not dotted:
            return label
        config = apps.get_containing_app_config(dotted)
        return config.label if config is not None else None
