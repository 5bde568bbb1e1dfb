"""Loading users' recordings, and the clear errors for bad ones."""

import numpy as np
import pytest

from wzcodec.core.errors import WzError
from wzcodec.data.recordings import load_pairs, save_pairs

X = np.linspace(0, 1, 300)
Y = X**2


@pytest.mark.parametrize("suffix", [".npz", ".npy", ".csv"])
def test_formats_round_trip(tmp_path, suffix):
    f = tmp_path / f"rec{suffix}"
    save_pairs(f, X, Y)
    x, y = load_pairs(f)
    assert np.allclose(x, X) and np.allclose(y, Y)


def test_csv_without_header_and_with_semicolons(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("1,2\n3,4\n")
    assert load_pairs(f)[1].tolist() == [2.0, 4.0]
    f.write_text("x;y\n1;2\n3;4\n")
    assert load_pairs(f)[0].tolist() == [1.0, 3.0]


@pytest.mark.parametrize("make, message", [
    (lambda d: np.savez(d / "f.npz", x=X, y=Y[:-1]), "different lengths"),
    (lambda d: np.savez(d / "f.npz", x=np.where(X > 0.5, np.nan, X), y=Y), "NaN/inf"),
    (lambda d: np.savez(d / "f.npz", x=X, z=Y), "must hold arrays 'x' and 'y'"),
    (lambda d: np.save(d / "f.npy", np.ones((10, 3))), "N x 2"),
    (lambda d: (d / "f.csv").write_text("a,b,c\n1,2,3\n"), "exactly 2 columns"),
    (lambda d: (d / "f.csv").write_text("x,y\n1,hello\n"), "not a numeric"),
    (lambda d: (d / "f.npz").write_bytes(b"not a zip"), "cannot read"),
    (lambda d: (d / "f.txt").write_text("1,2"), "unsupported file type"),
    # issue 12: nothing is lost or overflows silently
    (lambda d: np.save(d / "f.npy", np.column_stack([X, Y]) + 1j), r"the array is complex \(complex128\)"),
    (lambda d: np.savez(d / "f.npz", x=X.astype(np.complex64), y=Y), r"array 'x' is complex \(complex64\)"),
    (lambda d: np.savez(d / "f.npz", x=X, y=Y > 0.5), "channel y holds bool"),
    (lambda d: np.savez(d / "f.npz", x=X * 1e300, y=Y), r"channel x reaches 1e\+300 \(sample 299\), beyond \+-1e\+30: rescale"),
    (lambda d: np.savez(d / "f.npz", x=X, y=-Y * 1e200), r"channel y reaches 1e\+200 .*: rescale it"),
    (lambda d: np.savez(d / "f.npz", x=X * 1e-200, y=Y), r"channel x varies by only 1e-200, below 1e-30: rescale it"),
])
def test_bad_files_raise_one_clear_error(tmp_path, make, message):
    make(tmp_path)
    f = next(tmp_path.iterdir())
    with pytest.raises(WzError, match=message) as exc:
        load_pairs(f)
    assert "\n" not in str(exc.value)


def test_too_short_and_missing(tmp_path):
    save_pairs(tmp_path / "s.npz", X[:10], Y[:10])
    with pytest.raises(WzError, match="need at least 200"):
        load_pairs(tmp_path / "s.npz", min_samples=200)
    with pytest.raises(WzError, match="not found"):
        load_pairs(tmp_path / "missing.csv")


def test_one_minimum_length_derived_from_training():
    from wzcodec.core.binning import MAX_TAPS
    from wzcodec.data.sources import MIN_SAMPLES, MIN_SEGMENT, split_point
    from wzcodec.training.config import TrainConfig

    # a training segment holds a window plus the longest filter's warm-up; the split keeps 80 % for training
    assert MIN_SEGMENT == TrainConfig().window + MAX_TAPS - 1
    assert split_point(MIN_SAMPLES) >= MIN_SEGMENT > split_point(MIN_SAMPLES - 1)
    assert MIN_SAMPLES == 2579


@pytest.mark.parametrize("n", [2579, 5000, 25_000, 25_010, 100_000])
def test_every_training_segment_of_a_recording_holds_a_window(tmp_path, n):
    from wzcodec.data.sources import MIN_SEGMENT, Source, split_point

    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    save_pairs(tmp_path / "r.npz", x, x + rng.normal(size=n))
    data = Source(data=str(tmp_path / "r.npz")).training_data(seed=0)
    lengths = [len(sx) for sx, _ in data.train]
    # 5,000 and 25,000 samples used to cut segments of exactly 2,000 and fail with a window error
    assert min(lengths) >= MIN_SEGMENT and sum(lengths) == split_point(n) and len(lengths) <= 10


def test_the_minimum_is_the_same_for_every_use_and_says_why(tmp_path):
    from wzcodec.data.sources import MIN_SAMPLES, Source

    save_pairs(tmp_path / "s.npz", np.arange(MIN_SAMPLES - 1.0), np.ones(MIN_SAMPLES - 1))
    src = Source(data=str(tmp_path / "s.npz"))
    for use in (lambda: src.training_data(0), lambda: src.test_data(0, 0), lambda: src.held_out(0, 0), src.recording):
        with pytest.raises(WzError, match=rf"{MIN_SAMPLES - 1} samples, need at least {MIN_SAMPLES} \(the first 80% of a "
                           r"recording trains, and a training segment holds a 2000-sample window plus up to 63 samples"):
            use()


def test_a_tiny_standard_deviation_is_refused_before_training():
    from wzcodec.data.trainset import prepare

    x = np.zeros(3000)
    x[7] = 1e-29  # varies by 1e-29, but its standard deviation is 2e-31: no model file could hold that scale
    with pytest.raises(WzError, match=r"channel x has standard deviation 1.83e-31 .* outside \[1e-30, 1e\+30\]: rescale"):
        prepare([(x, np.arange(3000.0))], (x, x), "d")


def test_save_pairs_writes_atomically(tmp_path, monkeypatch):
    from wzcodec.core import files

    f = tmp_path / "r.csv"
    save_pairs(f, X, Y)
    before = f.read_bytes()
    monkeypatch.setattr(files.os, "replace", lambda *_a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        save_pairs(f, X + 1, Y)
    assert f.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["r.csv"]
