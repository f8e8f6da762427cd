"""One self-contained service per extracted capability, each in its own subpackage (see DESIGN.md)."""
