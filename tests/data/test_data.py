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
