"""The reconnect policy and plan, with the clock and the random source passed in (no sleeping):
backoff grows to its cap, jitter only shortens, attempts and the deadline bound it, the plan
cycles over the failover list with a redirect first; redirect and failover-server-list
targets are read from the peer's error info and OPEN properties (spec 2.8.17)."""

from __future__ import annotations

import pytest

from amqp10 import Reconnect
from amqp10._reconnect import Outage, OutageState, Plan, advertised_failover, redirect_url, split_options
from amqp10.codec.types import Symbol
from amqp10.url import parse_url

A = parse_url("amqp://a:1")
B = parse_url("amqp://b:2")
C = parse_url("amqp://c:3")


def test_backoff_starts_at_once_grows_by_the_multiplier_and_stops_at_the_cap() -> None:
    policy = Reconnect(initial_delay=0.1, multiplier=2, max_delay=0.5, jitter=0, max_attempts=10, deadline=None)
    assert [policy.delay(n, lambda: 0.0) for n in range(6)] == [0.0, 0.1, 0.2, 0.4, 0.5, 0.5]


def test_jitter_only_shortens_a_delay_by_at_most_its_fraction() -> None:
    policy = Reconnect(initial_delay=1.0, multiplier=1, max_delay=1.0, jitter=0.25, max_attempts=3, deadline=None)
    assert policy.delay(1, lambda: 0.0) == 1.0
    assert policy.delay(1, lambda: 0.999999) == pytest.approx(0.75, abs=1e-5)


def test_a_policy_must_be_bounded_and_sane() -> None:
    with pytest.raises(ValueError, match="bounded"):
        Reconnect(max_attempts=None, deadline=None)
    with pytest.raises(ValueError):
        Reconnect(jitter=1.5)
    with pytest.raises(ValueError):
        Reconnect(multiplier=0.5)
    with pytest.raises(ValueError):
        Reconnect(max_attempts=0)


def test_plan_cycles_over_the_current_url_then_the_failover_list_until_attempts_run_out() -> None:
    plan = Plan(Reconnect(initial_delay=1, jitter=0, max_attempts=5, deadline=None), A, [B, C, A], started=0.0)
    steps = []
    while (step := plan.next(0.0)) is not None:
        steps.append((step[0].host, step[1]))
        assert len(steps) <= 5
    assert [host for host, _ in steps] == ["a", "b", "c", "a", "b"]
    assert steps[0][1] == 0.0 and steps[1][1] == 1.0


def test_plan_ends_when_the_next_dial_would_come_after_the_deadline() -> None:
    plan = Plan(Reconnect(initial_delay=1, multiplier=1, jitter=0, max_attempts=None, deadline=2.5), A, [], started=10.0)
    assert plan.next(10.0) == (A, 0.0)
    assert plan.next(10.0) == (A, 1.0)
    assert plan.next(11.0) == (A, 1.0)
    assert plan.next(12.0) is None


def test_a_redirect_target_is_dialled_first() -> None:
    plan = Plan(Reconnect(jitter=0), A, [B], started=0.0)
    plan.redirect(C)
    assert [plan.next(0.0)[0].host for _ in range(3)] == ["c", "a", "b"]  # type: ignore[index]


def test_redirect_info_names_the_network_host_and_port_keeping_scheme_and_credentials() -> None:
    current = parse_url("amqp://user:pw@here:5672")
    url = redirect_url({Symbol("hostname"): "vhost", Symbol("network-host"): "10.0.0.2", Symbol("port"): 5673}, current)
    assert url is not None and (url.host, url.port, url.username, url.password) == ("10.0.0.2", 5673, "user", "pw")
    assert redirect_url({Symbol("hostname"): "other"}, current).port == 5672  # type: ignore[union-attr]
    assert redirect_url(None, current) is None
    assert redirect_url({Symbol("port"): 1}, current) is None


def test_failover_server_list_from_the_peers_open_properties() -> None:
    props = {Symbol("failover-server-list"): [{Symbol("network-host"): "b", Symbol("port"): 2}, {Symbol("hostname"): "c", Symbol("port"): 3}, "junk"]}
    assert [(u.host, u.port) for u in advertised_failover(props, A)] == [("b", 2), ("c", 3)]
    assert advertised_failover(None, A) == []


def test_connect_options_reconnect_false_by_default_true_for_the_default_policy() -> None:
    settings, rest = split_options({"timeout": 3, "failover": ["amqp://b:2"]})
    assert settings.policy is None and rest == {"timeout": 3} and settings.failover == (B,) and settings.follow_redirects
    assert split_options({"reconnect": True})[0].policy == Reconnect()
    with pytest.raises(TypeError):
        split_options({"reconnect": 3})


def test_outage_a_call_is_retried_only_after_a_reconnect_that_completed_after_it_began() -> None:
    outage = Outage()
    generation, reconnects = outage.generation, outage.reconnects
    assert not outage.retry_after(generation, connection_dead=False)  # its own error
    assert outage.begin(ConnectionError("lost")) and not outage.begin(ConnectionError("again"))
    assert outage.retry_after(generation, connection_dead=True)
    assert not outage.back(reconnects)
    outage.end()
    assert outage.back(reconnects) and outage.state is OutageState.UP
    outage.fail(None)
    assert outage.back(outage.reconnects)
