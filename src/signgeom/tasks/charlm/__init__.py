"""Character-level language modelling: a text corpus, a decoder-only transformer, the task."""
