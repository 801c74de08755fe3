"""Only what pyproject.toml cannot say: the code packages are found, not listed (a new sub-package cannot go
missing from the wheel), and two data folders of the repository are mapped into the package, where
inrcodec.model.registry.models_dir() and inrcodec.rd.anchors.anchors_dir() find them in an installed wheel:
models/ as inrcodec/_models and eval/anchors/ as inrcodec/_anchors (data only, no __init__.py)."""

from setuptools import find_packages, setup

DATA_PACKAGES = {"inrcodec._models": "models", "inrcodec._anchors": "eval/anchors"}

setup(packages=find_packages(include=["inrcodec", "inrcodec.*"]) + list(DATA_PACKAGES), package_dir=DATA_PACKAGES)
