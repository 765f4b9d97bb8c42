"""The Jinja templates of the model and dataset cards (installed as ``hubtools.cards.templates``).

This file only makes the folder a package, so that a wheel ships the templates and an editable install
finds them here; see ``docs/cards.md``.
"""
