"""Exceptions raised by hubtools; messages name the file, model and step that failed."""


class ExportError(RuntimeError):
    """Export or verification failed; the message says which model and step."""
