"""Experiments reproducing the paper's figures and tables (one module per experiment)."""
