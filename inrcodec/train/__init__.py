"""Training of the shared models (torch): the v2 image model, and the video model on top of an image model."""
