"""The inventory for people: a terminal report, and an HTML page with the coupling graph drawn as inline SVG
(no script, nothing fetched: it opens anywhere, offline)."""

from __future__ import annotations

import html
import math

from strangler.inventory.model import Inventory

COLOURS = {"foreign-key": "#c0392b", "one-to-one": "#c0392b", "many-to-many": "#8e44ad", "generic": "#8e44ad",
           "signal": "#e67e22", "import": "#95a5a6"}


def text(inv: Inventory) -> str:
    lines = [f"inventory of {inv.project}: {len(inv.apps)} apps, {len(inv.endpoints)} URL patterns, "
             f"{len(inv.tables)} tables, {sum(r.crosses for r in inv.relations)} relations and "
             f"{sum(s.crosses for s in inv.signals)} signals across apps ({inv.seconds:.2f}s)", "",
             "Proposed order (least coupled first):"]
    lines += [f"  {reason}" for reason in inv.reasons]
    if inv.seams:
        lines += ["", "Seams (apps that can only move together): " + "; ".join(" + ".join(s) for s in inv.seams)]
    for app in inv.apps:
        lines += ["", f"{app.app} ({app.module}): {len(app.tables)} tables, {app.endpoints} endpoints "
                      f"({app.write_endpoints} writing), coupling {app.coupling}"]
        if app.depends_on or app.depended_on_by:
            lines.append(f"  depends on: {', '.join(app.depends_on) or '-'}; depended on by: "
                         f"{', '.join(app.depended_on_by) or '-'}")
        lines += [f"  - {b}" for b in app.blockers]
    if any(e.requests is not None for e in inv.endpoints):
        lines += ["", "Traffic per endpoint (router log):"]
        for e in sorted(inv.endpoints, key=lambda e: -(e.requests or 0)):
            lines.append(f"  {e.requests or 0:>8}  {'/'.join(e.methods):<22} /{e.route}  ({e.app or '-'})")
    return "\n".join(lines) + "\n"


def page(inv: Inventory) -> str:
    rows = "".join(f"<tr><td>{html.escape(a.app)}</td><td>{len(a.tables)}</td><td>{a.endpoints}</td>"
                   f"<td>{a.coupling}</td><td>{html.escape(', '.join(a.depends_on) or '-')}</td>"
                   f"<td><ul>{''.join(f'<li>{html.escape(b)}</li>' for b in a.blockers)}</ul></td></tr>"
                   for a in inv.apps)
    order = "".join(f"<li>{html.escape(r)}</li>" for r in inv.reasons)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inventory of {html.escape(inv.project)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:70em}}td,th{{border-bottom:1px solid #ddd;
padding:.3em .6em;vertical-align:top;text-align:left}}table{{border-collapse:collapse}}ul{{margin:0;padding-left:1em}}
.legend span{{margin-right:1.5em}}</style></head><body>
<h1>Inventory of {html.escape(inv.project)}</h1>
<p>{len(inv.apps)} apps, {len(inv.endpoints)} URL patterns, {len(inv.tables)} tables.</p>
<h2>Coupling</h2>
<p class="legend"><span style="color:{COLOURS['foreign-key']}">&#9644; foreign key</span>
<span style="color:{COLOURS['signal']}">&#9644; signal</span><span style="color:{COLOURS['import']}">&#9644;
imports</span> (arrows point from the app that depends to the app it depends on)</p>
{graph(inv)}
<h2>Proposed order</h2><ol style="list-style:none;padding:0">{order}</ol>
<h2>Apps</h2><table><tr><th>app</th><th>tables</th><th>endpoints</th><th>coupling</th><th>depends on</th>
<th>what blocks moving it</th></tr>{rows}</table>
</body></html>
"""


def graph(inv: Inventory, size: int = 520) -> str:
    """The apps on a circle, in the proposed order; one arrow per kind of link between two apps."""
    names = [a.app for a in inv.apps]
    centre, radius = size / 2, size / 2 - 70
    at = {name: (centre + radius * math.cos(2 * math.pi * i / max(len(names), 1) - math.pi / 2),
                 centre + radius * math.sin(2 * math.pi * i / max(len(names), 1) - math.pi / 2))
          for i, name in enumerate(names)}
    edges: dict[tuple[str, str, str], int] = {}
    for r in inv.relations:
        if r.app in at and r.to_app in at and r.app != r.to_app:
            edges[(r.app, r.to_app, r.kind)] = edges.get((r.app, r.to_app, r.kind), 0) + 1
    for s in inv.signals:
        if s.receiver_app in at and s.sender_app in at and s.crosses:
            key = (str(s.receiver_app), str(s.sender_app), "signal")
            edges[key] = edges.get(key, 0) + 1
    for i in inv.imports:
        if i.app in at and i.to_app in at:
            edges[(i.app, i.to_app, "import")] = edges.get((i.app, i.to_app, "import"), 0) + i.modules
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
             f'aria-label="coupling between apps"><defs>'
             + "".join(f'<marker id="m-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
                       f'orient="auto"><path d="M0,0L10,5L0,10z" fill="{c}"/></marker>' for k, c in COLOURS.items())
             + "</defs>"]
    for (a, b, kind), count in sorted(edges.items()):
        (x1, y1), (x2, y2) = at[a], at[b]
        bend = {"import": 0.0, "signal": 18.0}.get(kind, -18.0)   # kinds between the same two apps side by side
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        mx, my = (x1 + x2) / 2 - dy / length * bend, (y1 + y2) / 2 + dx / length * bend
        sx, sy, ex, ey = x1 + dx / length * 34, y1 + dy / length * 34, x2 - dx / length * 34, y2 - dy / length * 34
        parts.append(f'<path d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}" fill="none" '
                     f'stroke="{COLOURS[kind]}" stroke-width="{min(1 + count, 6)}" marker-end="url(#m-{kind})">'
                     f'<title>{html.escape(f"{a} -> {b}: {count} {kind}")}</title></path>')
    for name, (x, y) in at.items():
        step = inv.order.index(name) + 1 if name in inv.order else None
        label = f"{step}. {name}" if step else name
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="32" fill="#ecf0f1" stroke="#34495e"/>'
                     f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="12">'
                     f'{html.escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
