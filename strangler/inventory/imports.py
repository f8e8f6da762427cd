"""Imports between the project's apps, from the import graph grimp builds of the project's packages: an
import of another app's module is a call the extraction must turn into a request (or a gateway)."""

from __future__ import annotations

from collections import defaultdict

import grimp

from strangler.inventory.apps import AppIndex
from strangler.inventory.model import ImportLink


def import_links(index: AppIndex) -> list[ImportLink]:
    packages = sorted({name.split(".")[0] for name in index.by_name})
    if not packages:
        return []
    graph = grimp.build_graph(*packages, cache_dir=None)
    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for importer in sorted(graph.modules):
        app = index.label_of(importer)
        if app is None:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            to_app = index.label_of(imported)
            if to_app is not None and to_app != app:
                pairs[(app, to_app)].append((importer, imported))
    links = []
    for (app, to_app), modules in sorted(pairs.items()):
        importer, imported = modules[0]
        details = graph.get_import_details(importer=importer, imported=imported)
        line = f":{details[0]['line_number']}" if details else ""
        links.append(ImportLink(app, to_app, len(modules), f"{importer}{line} -> {imported}"))
    return links
