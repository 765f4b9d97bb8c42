"""Exceptions with messages that say where the problem is and what to do."""


class DataError(ValueError):
    """Invalid input data; the message names the file, split, row and field."""


class ConfigError(ValueError):
    """Invalid recipe configuration; the message names the field."""


class ExportError(RuntimeError):
    """Export or verification failed; the message says which model and step."""


class CardError(ValueError):
    """A card cannot be rendered; the message names the template and the missing results.json value."""
