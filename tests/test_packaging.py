"""The source distribution carries the licence and what the tests need from outside the
package (the spec XML with its NOTICE), built by the project's own build backend."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build_sdist(out: Path) -> Path:
    # The backend in-process (setuptools.build_meta), as pip and `python -m build` call it,
    # without fetching anything; the sdist step compiles nothing.
    code = (
        "import sys; from setuptools import build_meta; "
        "print(build_meta.build_sdist(sys.argv[1]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_sdist_carries_the_apache_license_and_the_spec_xml_with_its_notice(tmp_path: Path) -> None:
    sdist = _build_sdist(tmp_path)
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        license_text = archive.extractfile(next(m for m in archive.getmembers() if m.name.endswith("/LICENSE")))
        assert license_text is not None
        text = license_text.read().decode()
        pkg_info = archive.extractfile(next(m for m in archive.getmembers() if m.name.endswith("/PKG-INFO")))
        assert pkg_info is not None
        metadata = pkg_info.read().decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "License-File: LICENSE" in metadata
    assert "spec/NOTICE" in names
    assert {f"spec/amqp-1.0/{n}.bare.xml" for n in ("types", "transport", "messaging", "security", "transactions")} <= names
