"""The paper's figures, drawn from the results tables."""
