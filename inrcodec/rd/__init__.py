"""Rate-distortion evaluation: codecs (inrcodec and live baselines), the measuring harness and its store,
reports, datasets and published anchors. Sits above the api; nothing of the codec imports it."""
