"""The installed package (not only the source tree) carries every data file:
message catalogs, schemas, terminology tables, policy data, samples, demo page."""
from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA_GLOBS = ["cds_service/data/*.json", "cds_service/messages/*/*.json", "cds_service/schemas/*.json",
              "cds_service/samples/*.json", "cds_service/demo/static/*", "spine_guideline/data/*.json",
              "fhir_mappings/terminology/*.json"]


def test_wheel_contains_every_data_file(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("spine_cds-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(p.relative_to(ROOT)) for g in DATA_GLOBS for p in ROOT.glob(g) if p.is_file()}
    assert expected, "no data files found"
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel: {missing}"
    assert "cds_service/gunicorn_conf.py" in names
