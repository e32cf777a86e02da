"""A built wheel carries every module, the catalogs and the suites (the directory mapping works)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

CHECK = """
import importlib, pkgutil, sys
import postel
assert postel.__file__.startswith(sys.argv[1]), postel.__file__
names = [m.name for m in pkgutil.walk_packages(postel.__path__, "postel.")]
for name in names:
    importlib.import_module(name)
from postel.requirements import load_requirements, specs_dir
assert str(specs_dir()).startswith(sys.argv[1])
catalog = load_requirements()
print(len(names), len(catalog))
"""


def test_wheel_imports_every_module_and_finds_the_catalogs(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("postel-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("postel/specs/rfc868.toml", "postel/suites/time/test_rfc868_tcp.py", "postel/plugin.py", "postel/reports/html.py"):
        assert expected in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "postel = postel.plugin" in entry_points and "postel = postel.cli:main" in entry_points
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    result = subprocess.run([sys.executable, "-c", CHECK, str(site)], capture_output=True, text=True, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    modules, requirements = map(int, result.stdout.split())
    source_modules = [p for p in (REPO / "harness").rglob("*.py")]
    assert modules >= len(source_modules) - 1  # every harness module (minus postel/__init__) and more
    assert requirements >= 20


def test_editable_install_maps_every_folder():
    import postel
    import postel.fixtures
    import postel.reports
    import postel.specs
    import postel.suites

    assert Path(postel.__file__).parent == REPO / "harness"
    for package, folder in ((postel.fixtures, "fixtures"), (postel.reports, "reports"), (postel.specs, "specs"), (postel.suites, "suites")):
        assert Path(package.__file__).parent == REPO / folder
