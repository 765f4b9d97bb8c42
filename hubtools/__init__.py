"""nerhub's library: build, train, export and publish Named Entity Recognition models on the Hub."""

__version__ = "0.1.0"
