"""Plain token classification: any transformers encoder fine-tuned (or a tiny one built) to tag words."""
