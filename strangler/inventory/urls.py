"""Every URL pattern of the project's URLconf: the route, its name, the view, the methods it answers and the
app that holds the view."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from strangler.inventory.apps import AppIndex
from strangler.inventory.model import Endpoint

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def endpoints(index: AppIndex, urlconf: str | None = None) -> list[Endpoint]:
    found: list[Endpoint] = []
    _walk(get_resolver(urlconf), "", None, index, found)
    return found


def route_text(pattern: Any) -> str:
    """A pattern's text as written: ``path()`` routes as they are, regexes without their anchors."""
    text = str(pattern)
    return text.removeprefix("^").removesuffix("$") if type(pattern).__name__ == "RegexPattern" else text


def _walk(resolver: URLResolver, prefix: str, namespace: str | None, index: AppIndex, found: list[Endpoint]) -> None:
    for entry in resolver.url_patterns:
        route = prefix + route_text(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = entry.namespace
            _walk(entry, route, f"{namespace}:{inner}" if namespace and inner else inner or namespace, index, found)
        elif isinstance(entry, URLPattern):
            view, methods = describe_view(entry.callback)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            found.append(Endpoint(route=route, name=name, view=view, app=index.any_label_of(view),
                                  methods=methods))


def describe_view(callback: Any) -> tuple[str, tuple[str, ...]]:
    """The view's dotted path and the methods it answers: a DRF viewset's actions, an APIView's or a class-based
    view's handlers, else ``ANY`` (a function view does not say which methods it takes)."""
    actions = getattr(callback, "actions", None)
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if cls is not None:
        # DRF's @api_view makes a class inside the decorator; it carries the function's module and name.
        qualname = cls.__name__ if "<locals>" in cls.__qualname__ else cls.__qualname__
        dotted = f"{cls.__module__}.{qualname}"
        if isinstance(actions, dict):
            return dotted, tuple(sorted(m.upper() for m in actions))
        return dotted, tuple(m.upper() for m in HTTP_METHODS if hasattr(cls, m))
    module = getattr(callback, "__module__", None) or "?"
    return f"{module}.{getattr(callback, '__qualname__', repr(callback))}", ("ANY",)
