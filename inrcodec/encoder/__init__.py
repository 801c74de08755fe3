"""The v2 encoder (torch, autograd): the shared model's differentiable twin, the analysis network, the
quantisation proxy, refinement and the image pipeline. Nothing here is imported by the decoder."""
