"""Fixtures shared by the adapter tests: test-time TLS material."""

from __future__ import annotations

import pytest

from support.certs import CertificateSet, make_certificates


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    """A CA plus server (localhost, 127.0.0.1) and client certificates, made for this run."""
    return make_certificates(tmp_path_factory.mktemp("certs"))
