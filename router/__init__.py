"""The strangler facade: routing table, forwarding, canary, shadow, identity bridge (see DESIGN.md).

Standalone: it never imports Django, the monolith, the extracted services or the migration engine.
"""
