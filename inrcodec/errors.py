"""Errors a user can cause. The CLI turns each into one line on stderr and a non-zero exit."""


class InrCodecError(Exception):
    """A problem with the user's input, output or file, described in one line."""


class BitstreamError(InrCodecError):
    """A .inr file that is truncated, corrupted, foreign or of an unsupported version."""
