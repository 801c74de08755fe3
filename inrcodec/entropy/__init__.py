"""Entropy coding of codec v2, integers only (numpy and constriction, never torch): the normative Laplace
tables, the fixed-point context model and the coding of latent planes."""
