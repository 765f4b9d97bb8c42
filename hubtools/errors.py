"""Every exception hubtools raises on purpose: each message says where the problem is and what to do.

The ``hubtools`` command and the recipes print a :class:`HubtoolsError` as one line instead of a traceback.
"""


class HubtoolsError(Exception):
    """Base of the errors the ``hubtools`` command and the recipes report in one line."""


class DataError(HubtoolsError, ValueError):
    """Invalid input data; the message names the file and line, or the split, row and field."""


class ConfigError(HubtoolsError, ValueError):
    """Invalid recipe configuration; the message names the section and key."""


class ResultsError(HubtoolsError, ValueError):
    """A results.json that cannot be read as typed run results; the message names the key path."""


class ExportError(HubtoolsError, RuntimeError):
    """Export or verification failed; the message says which model and step."""


class CardError(HubtoolsError, ValueError):
    """A card cannot be rendered; the message names the template and the missing value."""


class PushError(HubtoolsError, RuntimeError):
    """A push that cannot go on; the one-line message says what to do. It never contains a token."""
