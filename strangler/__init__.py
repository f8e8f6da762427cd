"""The migration engine: plans, data split, parity and analysis (see DESIGN.md)."""
