"""Exceptions raised by hubtools; messages name the offending file, split, row and field."""


class DataError(ValueError):
    """Invalid input data; the message names the file, split, row and field."""
