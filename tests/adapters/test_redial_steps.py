"""The reconnect loop as steps (``_redialing``), driven here with a fake clock and no I/O, as
every adapter drives it: it dials by the plan, waits the plan's delays, stops when the
attempts run out or the user closes, ends the outage on the core, and calls the user's
callbacks (whose exceptions never stop it). Also what a call that failed during an outage
does: raise its own error, raise ``DeliveryInDoubtError``, or wait and run again."""

from __future__ import annotations

from typing import Any

import pytest

from amqp10 import Reconnect
from amqp10._api import ClientCore
from amqp10._reconnect import Outage, OutageState, Plan, ReconnectSettings
from amqp10._redialing import Dial, Finish, RedialStep, Sleep, end_outage, failed_call, over, redial
from amqp10.engine import Config, Connection
from amqp10.errors import ConnectionClosedError, DeliveryInDoubtError, LinkDetachedError, ReconnectFailedError, Timeout
from amqp10.url import parse_url

A = parse_url("amqp://a:1")
B = parse_url("amqp://b:2")


def _core() -> ClientCore:
    return ClientCore(Connection(Config(container_id="redial-steps")), "a:1")


def _run(steps: Any, dial: Any, clock: list[float]) -> list[RedialStep]:
    """Drive ``steps`` the way an adapter does: sleeping advances the fake clock, ``dial(url)``
    returns the failure (or ``None``). Bounded by a step count."""
    seen: list[RedialStep] = []
    reply: Exception | None = None
    for _ in range(100):
        try:
            step = steps.send(reply)
        except StopIteration:
            return seen
        seen.append(step)
        reply = None
        if isinstance(step, Sleep):
            clock[0] += step.seconds
        elif isinstance(step, Dial):
            reply = dial(step.url)
    raise AssertionError("the steps did not end within 100")


def test_dials_the_plan_in_order_waiting_its_delays_until_one_succeeds() -> None:
    core, clock = _core(), [0.0]
    policy = Reconnect(initial_delay=0.5, multiplier=2, jitter=0, max_attempts=5, deadline=None)
    plan = Plan(policy, A, [B], started=0.0)
    told: list[object] = []
    settings = ReconnectSettings(policy, on_disconnect=told.append, on_reconnect=told.append)
    cause = ConnectionClosedError("lost")
    failures = iter([OSError("refused"), ConnectionClosedError("no")])
    steps = redial(core, plan, cause, settings, A, stopped=lambda: False, now=lambda: clock[0])
    seen = _run(steps, lambda url: next(failures, None), clock)
    assert seen == [Dial(A), Sleep(0.5), Dial(B), Sleep(1.0), Dial(A), Finish(A, None)]
    assert told == [cause, str(A)]  # on_disconnect first, on_reconnect after Finish


def test_gives_up_with_reconnect_failed_naming_the_attempts_and_the_last_failure() -> None:
    core, clock = _core(), [0.0]
    plan = Plan(Reconnect(initial_delay=0.1, jitter=0, max_attempts=2, deadline=None), A, [], started=0.0)
    steps = redial(core, plan, ConnectionClosedError("lost"), ReconnectSettings(plan.policy), A, stopped=lambda: False, now=lambda: clock[0])
    last = OSError("refused again")
    seen = _run(steps, lambda url: last, clock)
    assert [type(s) for s in seen] == [Dial, Sleep, Dial, Finish]
    finish = seen[-1]
    assert isinstance(finish, Finish) and isinstance(finish.error, ReconnectFailedError)
    assert "2 attempts" in str(finish.error) and "refused again" in str(finish.error)
    assert finish.error.__cause__ is last


def test_a_close_during_the_wait_ends_the_dialling_without_another_dial() -> None:
    core, clock = _core(), [0.0]
    plan = Plan(Reconnect(initial_delay=1.0, jitter=0, max_attempts=5, deadline=None), A, [], started=0.0)
    closed_during_the_wait = lambda: clock[0] > 0  # noqa: E731 - the user closes while it sleeps
    steps = redial(core, plan, ConnectionClosedError("lost"), ReconnectSettings(plan.policy), A, stopped=closed_during_the_wait, now=lambda: clock[0])
    seen = _run(steps, lambda url: OSError("refused"), clock)
    assert [type(s) for s in seen] == [Dial, Sleep, Finish]
    finish = seen[-1]
    assert isinstance(finish, Finish) and "the connection was closed" in str(finish.error)


def test_a_close_before_the_next_turn_gives_up_without_waiting() -> None:
    core, clock = _core(), [0.0]
    plan = Plan(Reconnect(initial_delay=1.0, jitter=0, max_attempts=5, deadline=None), A, [], started=0.0)
    steps = redial(core, plan, ConnectionClosedError("lost"), ReconnectSettings(plan.policy), A, stopped=lambda: False, now=lambda: clock[0])

    def dial(url: Any) -> Exception:
        core.closing = True  # the user closes while the dial fails
        return OSError("refused")

    assert [type(s) for s in _run(steps, dial, clock)] == [Dial, Finish]


def test_a_failing_user_callback_does_not_stop_the_reconnect(caplog: pytest.LogCaptureFixture) -> None:
    core, clock = _core(), [0.0]
    plan = Plan(Reconnect(max_attempts=1, deadline=None), A, [], started=0.0)

    def boom(_: object) -> None:
        raise RuntimeError("user bug")

    settings = ReconnectSettings(plan.policy, on_disconnect=boom, on_reconnect=boom)
    steps = redial(core, plan, ConnectionClosedError("lost"), settings, A, stopped=lambda: False, now=lambda: clock[0])
    assert _run(steps, lambda url: None, clock) == [Dial(A), Finish(A, None)]
    assert [r.getMessage() for r in caplog.records if r.exc_info] == ["on_disconnect failed", "on_reconnect failed"]


def test_end_outage_reconnected_counts_a_reconnect_and_failed_finishes_the_core() -> None:
    core, outage = _core(), Outage()
    outage.begin(ConnectionClosedError("lost"))
    core.reconnecting = True
    end_outage(core, outage, None)
    assert (outage.state, outage.reconnects, core.reconnecting, core.finished) == (OutageState.UP, 1, False, False)
    outage.begin(ConnectionClosedError("lost again"))
    error = ReconnectFailedError("gave up")
    end_outage(core, outage, error)
    assert (outage.state, outage.failure, core.error, core.finished) == (OutageState.FAILED, error, error, True)


def test_a_failed_call_is_retried_only_when_the_connection_was_lost_since_it_began() -> None:
    core, outage = _core(), Outage()
    own = LinkDetachedError("the peer detached the link")
    assert failed_call(own, outage, core, outage.generation, retry_ok=True, doubt=False) is own
    began = outage.generation
    outage.begin(ConnectionClosedError("lost"))
    lost = ConnectionClosedError("lost")
    assert failed_call(lost, outage, core, began, retry_ok=True, doubt=False) is None
    assert failed_call(lost, outage, core, began, retry_ok=False, doubt=False) is lost  # e.g. send_many
    timeout = Timeout("too slow")
    assert failed_call(timeout, outage, core, began, retry_ok=True, doubt=False) is timeout
    doubt = failed_call(lost, outage, core, began, retry_ok=False, doubt=True)
    assert isinstance(doubt, DeliveryInDoubtError) and doubt.__cause__ is lost


def test_over_raises_the_reconnects_failure_or_the_close_else_lets_the_call_run_again() -> None:
    core, outage = _core(), Outage()
    lost = ConnectionClosedError("lost")
    outage.begin(lost)
    outage.end()
    assert over(outage, core, lost) is None
    core.closing = True
    closed = over(outage, core, lost)
    assert isinstance(closed, ConnectionClosedError) and "you closed it" in str(closed)
    failure = ReconnectFailedError("gave up")
    outage.fail(failure)
    assert over(outage, core, lost) is failure
    outage.fail(None)
    assert over(outage, core, lost) is lost  # no reconnect came: the call's own error stands
