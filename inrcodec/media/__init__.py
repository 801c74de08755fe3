"""Media I/O with Pillow and PyAV: images, video, YUV conversion and atomic file writes. Imports nothing of
the codec, so every layer may use it."""
