"""inrcodec: a neural image codec that stores an image as the entropy-coded parameters of a small neural field.

Importing the package is cheap: torch and the codec pipeline are imported by the functions that need them.
"""

__version__ = "0.2.0"
