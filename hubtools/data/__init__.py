"""Dataset loading, validation, label handling and generation for NER corpora."""
