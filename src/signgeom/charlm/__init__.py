"""Character-level language modelling: a text corpus and a decoder-only transformer."""
