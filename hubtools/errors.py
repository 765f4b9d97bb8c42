"""Exceptions with messages that say where the problem is and what to do."""


class HubtoolsError(Exception):
    """Base of the errors the ``hubtools`` command reports in one line."""


class DataError(HubtoolsError, ValueError):
    """Invalid input data; the message names the file, split, row and field."""


class ConfigError(HubtoolsError, ValueError):
    """Invalid recipe configuration; the message names the field."""


class ExportError(HubtoolsError, RuntimeError):
    """Export or verification failed; the message says which model and step."""


class CardError(HubtoolsError, ValueError):
    """A card cannot be rendered; the message names the template and the missing results.json value."""
