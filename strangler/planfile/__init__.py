"""The plan file: its schema (``model``), how it is read (``reader``) and how its problems are worded
(``messages``). Below both the executor (``strangler.plans``) and the data split (``strangler.datasplit``),
which read the same file, so neither has to import the other for it."""
