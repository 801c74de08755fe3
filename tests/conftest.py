"""Fixtures shared by several test files."""

import urllib.error

import pytest

from inrcodec import datasets


@pytest.fixture()
def offline_datasets(monkeypatch, tmp_path):
    """No user environment or cache leaks into dataset lookup, and the network is down (tests that download
    serve the bytes themselves). Returns the empty cache folder."""
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "cache_dir", lambda: tmp_path / "cache")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", no_network)
    return tmp_path / "cache"
