"""inrcodec's video codec (format 1.2 files), on the v1 field and model of v1/.

codec.py encodes a clip and decodes all frames or one; file.py is the file's syntax (bytes only). Reading and
writing clips is media/video.py, training a video model's residual parameters train/video.py, and the video side
of `inrcodec encode`, `decode` and `info` cli/video.py. Importing this package is cheap (no torch).
"""
