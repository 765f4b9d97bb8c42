"""nerhub: build, train, export and publish NER models around the Hugging Face Hub."""

__version__ = "0.1.0"
