"""The time limits of ``amqp10._calls`` steps, which both adapters' drivers obey: ``None``
means the connection's default (or forever for ``receive``), and a ``Budget`` makes several
waits of one call share one limit."""

from __future__ import annotations

import pytest

from amqp10._api import PENDING
from amqp10._calls import Budget, Wait


def _never() -> object:
    return PENDING


def test_Wait_limit_is_the_connections_default_when_no_timeout_is_given() -> None:
    assert Wait(_never, None, "x").limit(100.0, 30.0) == 30.0


def test_Wait_limit_is_forever_when_no_timeout_is_given_and_no_default_applies() -> None:
    assert Wait(_never, None, "x", default=False).limit(100.0, 30.0) is None
    assert Wait(_never, None, "x").limit(100.0, None) is None


def test_Wait_limit_is_the_given_timeout_whatever_the_default() -> None:
    assert Wait(_never, 2.5, "x").limit(100.0, 30.0) == 2.5


def test_Budget_shares_one_deadline_between_the_waits_of_a_call() -> None:
    budget = Budget(10.0)
    first, second = Wait(_never, budget, "send"), Wait(_never, budget, "reply")
    assert first.limit(100.0, 30.0) == 10.0
    assert second.limit(104.0, 30.0) == pytest.approx(6.0)
    assert second.limit(120.0, 30.0) == 0.0  # spent: the wait times out at once


def test_Budget_starts_from_the_default_when_the_call_gave_no_timeout() -> None:
    budget = Budget(None)
    assert Wait(_never, budget, "send").limit(0.0, 30.0) == 30.0
    assert Wait(_never, budget, "reply").limit(25.0, 30.0) == pytest.approx(5.0)
