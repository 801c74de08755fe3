"""inrcodec's video: format 2.3 clips (clip_v2.py, on the v2 image model) and the decoding of format 1.2 files.

clip_v2.py encodes a clip (the work is in encoder/clip.py; decoding in video_decoder.py); decoder_v1.py decodes
format 1.2 files, on the v1 field and model of v1/, and file.py is their syntax (bytes only). Reading and writing
clips is media/video.py, the video side of `inrcodec encode`, `decode` and `info` cli/video.py. Importing this
package is cheap (no torch).
"""
