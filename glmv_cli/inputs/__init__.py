"""Preprocessors: files and stdin become model inputs that remember where they came from."""
