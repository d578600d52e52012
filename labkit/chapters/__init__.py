"""Exercise checks, one module per chapter (``ch02`` for chapter 2, ...)."""
