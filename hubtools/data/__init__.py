"""Loading, checking, relabelling and splitting token-classification datasets."""
