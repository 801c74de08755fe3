"""A small run of eval/fuzz_decoder.py: mutants of the v2 vectors and hostile headers are all refused in one
line or decoded, never an uncaught exception or a hang (the full run's counts are in eval/results/)."""

import importlib.util
import signal
from pathlib import Path

FUZZ = Path(__file__).resolve().parent.parent / "eval" / "fuzz_decoder.py"


def load_fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_decoder", FUZZ)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_fuzz_run_finds_nothing(monkeypatch):
    fuzz = load_fuzz()
    monkeypatch.setenv("INRCODEC_MODELS_DIR", str(fuzz.VECTORS / "models"))
    previous = signal.signal(signal.SIGALRM, fuzz._alarm)
    try:
        report = fuzz.run(300, seed=1, seeds=fuzz.seed_files())
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert report["cases"] == 300 + report["hand_made"]
    assert report["uncaught"] == 0, report["examples"]
    assert report["hangs"] == 0, report["examples"]
    assert report["outcomes"]["refused"] > 200  # most mutants break something the decoder checks


def test_hostile_headers_are_all_refused(monkeypatch):
    fuzz = load_fuzz()
    monkeypatch.setenv("INRCODEC_MODELS_DIR", str(fuzz.VECTORS / "models"))
    seed = fuzz.seed_files()[0]
    for name, data in fuzz.hostile_headers(seed):
        outcome, detail = fuzz.decode_outcome(data)
        assert outcome == "refused", (name, outcome, detail)
        assert "\x1b" not in detail


def test_hostile_frame_indexes_are_all_refused(monkeypatch):
    fuzz = load_fuzz()
    monkeypatch.setenv("INRCODEC_MODELS_DIR", str(fuzz.VECTORS / "models"))
    cases = fuzz.hostile_frames(fuzz.frame_index_seed())
    assert len(cases) >= 10
    for name, data in cases:
        outcome, detail = fuzz.decode_outcome(data)
        assert outcome == "refused", (name, outcome, detail)
    assert fuzz.decode_outcome(fuzz.frame_index_seed())[0] == "decoded"  # the seed itself is valid
