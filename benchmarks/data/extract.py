"""Reproduce the real two-channel recordings in benchmarks/data/ and examples/ from the packages that ship them.

Nothing is downloaded here. Install the two source packages once, in any Python 3.10+ environment (not
necessarily wzcodec's; --no-deps because only their data files are read, and biosignalsnotebooks pins an old
numpy (1.22.2) that has no build for Python 3.11):

    pip install obspy==1.5.1 h5py && pip install --no-deps biosignalsnotebooks==0.6.14

then, from the repository root:

    python benchmarks/data/extract.py            # (re)write the CSV files
    python benchmarks/data/extract.py --check    # rewrite nothing: exit 1 unless the files are byte-identical

Each source file is checked against the SHA-256 recorded below before it is cut. Provenance, licences and what
each column is: benchmarks/data/README.md. Needs numpy; h5py for the temperature and PPG pairs, obspy for the
seismometer pair (MiniSEED, Steim-2 compressed); biosignalsnotebooks is located, never imported.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# Steinhart-Hart coefficients of the PLUX temperature sensor (an NTC thermistor in a 10 kOhm divider), as in
# biosignalsnotebooks.conversion.raw_to_phy("TEMP", "biosignalsplux", raw, resolution, option="C")
SH_A0, SH_A1, SH_A2 = 1.12764514e-3, 2.34282709e-4, 8.77303013e-8


def package_file(package: str, relative: str, sha256: str) -> Path:
    """A data file inside an installed package (found without importing the package), checked by hash."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {package!r} is not installed: see the install line at the top of {Path(__file__).name}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        sys.exit(f"{path} not found: another version of {package}? (README.md names the one used)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        sys.exit(f"{path}: SHA-256 {digest}, expected {sha256}: another version of {package}?")
    return path


def thermistor_degc(raw: np.ndarray, bits: int) -> np.ndarray:
    """PLUX TMP sensor: ADC counts at `bits` resolution -> resistance (Ohm) -> degrees Celsius (Steinhart-Hart)."""
    ohm = 1e4 * raw / (2.0**bits - raw)
    ln = np.log(ohm)
    return 1.0 / (SH_A0 + SH_A1 * ln + SH_A2 * ln**3) - 273.15


def temperature_pair() -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """Two PLUX thermistors on two synchronised biosignalsplux hubs, one digitised at 16 bits, one at 8 bits,
    1000 Hz, 233,100 samples (3 min 53 s); every 4th sample kept (250 Hz, 58,275 rows), both in deg C."""
    import h5py

    path = package_file("biosignalsnotebooks", "notebook_files/osf_files/signal_samples/temp_res_8_16.h5",
                        "8370d647c345e8aae72b20876cb5da4e593aee6183b9e42a0e4cd3e816e16aaf")
    with h5py.File(path, "r") as h5:
        hi = h5["00:07:80:D8:A7:F9"]  # resolution [16], channel 2
        lo = h5["00:07:80:79:6F:DB"]  # resolution [8], channel 1
        assert int(hi.attrs["resolution"][0]) == 16 and int(lo.attrs["resolution"][0]) == 8
        assert int(hi.attrs["sampling rate"]) == 1000 == int(lo.attrs["sampling rate"])
        raw16 = hi["raw/channel_2"][:, 0].astype(np.float64)
        raw8 = lo["raw/channel_1"][:, 0].astype(np.float64)
    assert len(raw16) == len(raw8) == 233_100
    x, y = thermistor_degc(raw16, 16)[::4], thermistor_degc(raw8, 8)[::4]
    return ["temp_16bit_degC", "temp_8bit_degC"], x, y, "%.4f"


def seismometer_pair() -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """A huddle test: an instrument under calibration (CA.0438..EHZ) beside an STS-2 reference (CA.STS2..EHZ),
    vertical, 200 Hz, 2011-02-15 10:21-11:21 UTC; the middle five minutes kept (samples 330,000-389,999,
    10:48:30-10:53:30 UTC, 60,000 rows), raw counts."""
    import obspy

    unknown = obspy.read(str(package_file("obspy", "signal/tests/data/ref_unknown",
                                          "e729cac1b57e7e491e852514a48b486d15cc13ffaf7e207444040c07d0192f85")))[0]
    sts2 = obspy.read(str(package_file("obspy", "signal/tests/data/ref_STS2",
                                       "2cb6a24ab60989b3e5c804c15cff731e871efac5bb3494ff0f33b04d639afa3e")))[0]
    for tr in (unknown, sts2):
        assert tr.stats.sampling_rate == 200.0 and tr.stats.npts == 720_001
        assert str(tr.stats.starttime) == "2011-02-15T10:21:00.000000Z"
    cut = slice(330_000, 390_000)
    return ["unknown_0438_EHZ_counts", "sts2_EHZ_counts"], unknown.data[cut].astype(np.int64), sts2.data[cut].astype(np.int64), "%d"


def ppg_pair() -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """A PLUX finger clip pulse-oximetry sensor (fSpO2) on a biosignalsplux hub: its two photoplethysmogram channels,
    one per LED wavelength (red, infrared), 1000 Hz, 91,200 samples (1 min 31 s). The sensor repeats each value for
    about 2 ms and needs a few ms to settle: from 1 s on, every 4th sample is kept (250 Hz, 22,550 rows), as
    photodiode current in nA (PLUX SpO2.FING transfer function: 1.2 uA full scale)."""
    import h5py

    path = package_file("biosignalsnotebooks", "notebook_files/osf_files/signal_samples/signal_sample_single_hub_fspo2_2018_9_3.h5",
                        "53cb619d47d4327f3a913a5dbd4073de0d10ffe1839feccab573d17b5ef80d52")
    with h5py.File(path, "r") as h5:
        hub = h5["00:07:80:79:6F:DB"]
        assert list(hub.attrs["channels"]) == [9, 10] and list(hub.attrs["resolution"]) == [16, 16]
        assert int(hub.attrs["sampling rate"]) == 1000
        chn1 = hub["raw/channel_9"][:, 0].astype(np.float64)
        chn2 = hub["raw/channel_10"][:, 0].astype(np.float64)
    assert len(chn1) == len(chn2) == 91_200
    to_na = 1.2e3 / 2**16
    return ["ppg_chn1_nA", "ppg_chn2_nA"], chn1[1000::4] * to_na, chn2[1000::4] * to_na, "%.4f"


# file name -> (maker, where it lives: the temperature pair is the README quickstart's example, kept once)
RECORDINGS = {
    "temperature_pair.csv": (temperature_pair, ROOT / "examples" / "temperature_pair.csv"),
    "seismometer_pair.csv": (seismometer_pair, HERE / "seismometer_pair.csv"),
    "ppg_pair.csv": (ppg_pair, HERE / "ppg_pair.csv"),
}


def render(names: list[str], x: np.ndarray, y: np.ndarray, fmt: str) -> bytes:
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([x, y]), delimiter=",", header=",".join(names), comments="", fmt=fmt)
    return buf.getvalue().encode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the files in the repository; write nothing")
    ap.add_argument("--only", choices=sorted(RECORDINGS), help="one recording")
    args = ap.parse_args()
    bad = 0
    for name, (make, target) in RECORDINGS.items():
        if args.only and name != args.only:
            continue
        data = render(*make())
        rows = data.count(b"\n") - 1  # less the header
        rel = target.relative_to(ROOT)
        if args.check:
            same = target.is_file() and target.read_bytes() == data
            bad += not same
            print(f"{rel}: {'identical' if same else 'DIFFERS'}")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"{rel}: {rows} rows, {len(data)} bytes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
