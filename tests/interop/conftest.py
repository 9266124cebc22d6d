"""Fixtures of the interop matrix: test-time certificates and the peers amqp10's client targets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.certs import CertificateSet, make_certificates
from support.interop_targets import Targets


def pytest_configure(config: pytest.Config) -> None:
    # interop/render_matrix.py finds each cell by this marker.
    config.addinivalue_line("markers", "matrix(row, column, adapter): one cell of the interop matrix")


@pytest.fixture(scope="session")
def interop_certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    """A CA and a server certificate for localhost, made for this run (no key is committed)."""
    return make_certificates(tmp_path_factory.mktemp("interop-certs"))


@pytest.fixture(scope="session")
def targets(interop_certs: CertificateSet) -> Iterator[Targets]:
    """Where amqp10's client goes per column; listeners are spawned on first use and stopped
    (by PID) at the end of the session."""
    made = Targets(interop_certs)
    try:
        yield made
    finally:
        made.close()
