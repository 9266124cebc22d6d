"""Fixtures shared by the adapter tests: test-time TLS material, the test broker served."""

from __future__ import annotations

from typing import Iterator

import pytest

from amqp10.blocking import Listener, listen
from support.broker import QueueBroker
from support.certs import CertificateSet, make_certificates


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    """A CA plus server (localhost) and client certificates, made for this run."""
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def broker() -> QueueBroker:
    """A fresh test broker (a Handler), not yet served."""
    return QueueBroker()


@pytest.fixture
def listener(broker: QueueBroker) -> Iterator[Listener]:
    """The test broker served by the blocking adapter on a free loopback port."""
    with listen("127.0.0.1", 0, broker) as served:
        yield served
