from __future__ import annotations

import itertools

import pytest

from amqp10.engine.fsm import StateMachine, TransitionRefused
from amqp10.engine.states import (
    ConnectionInput,
    ConnectionState,
    LinkInput,
    LinkState,
    SessionInput,
    SessionState,
)
from amqp10.engine.tables import CONNECTION_TRANSITIONS, LINK_TRANSITIONS, SESSION_TRANSITIONS
from amqp10.engine.violations import VIOLATIONS, Level, Violation

TABLES = [
    (CONNECTION_TRANSITIONS, ConnectionState, ConnectionInput),
    (SESSION_TRANSITIONS, SessionState, SessionInput),
    (LINK_TRANSITIONS, LinkState, LinkInput),
]


@pytest.mark.parametrize("table,states,inputs", TABLES)
def test_StateMachine_follows_the_table_or_refuses_for_every_state_and_input(table, states, inputs) -> None:  # type: ignore[no-untyped-def]
    for state, inp in itertools.product(states, inputs):
        fsm = StateMachine(table, state)
        if (state, inp) in table:
            assert fsm.can(inp)
            assert fsm.process(inp) is table[(state, inp)]
        else:
            assert not fsm.can(inp)
            with pytest.raises(TransitionRefused):
                fsm.process(inp)
            assert fsm.state is state  # a refusal changes nothing


def _reachable(table, start):  # type: ignore[no-untyped-def]
    seen = {start}
    todo = [start]
    while todo:
        s = todo.pop()
        for (src, _), dst in table.items():
            if src is s and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return seen


def test_every_connection_state_is_reachable_from_START() -> None:
    assert _reachable(CONNECTION_TRANSITIONS, ConnectionState.START) == set(ConnectionState)


def test_every_session_state_is_reachable_from_UNMAPPED() -> None:
    assert _reachable(SESSION_TRANSITIONS, SessionState.UNMAPPED) == set(SessionState)


def test_every_link_state_is_reachable_from_DETACHED() -> None:
    assert _reachable(LINK_TRANSITIONS, LinkState.DETACHED) == set(LinkState)


def test_the_pipelined_open_path_reaches_OPENED() -> None:
    fsm = StateMachine(CONNECTION_TRANSITIONS, ConnectionState.START)
    for inp in (ConnectionInput.SEND_HEADER, ConnectionInput.SEND_OPEN, ConnectionInput.RECV_HEADER, ConnectionInput.RECV_OPEN):
        fsm.process(inp)
    assert fsm.state is ConnectionState.OPENED


def test_every_violation_has_a_row_with_an_amqp_condition() -> None:
    assert set(VIOLATIONS) == set(Violation)
    for rule in VIOLATIONS.values():
        assert rule.condition.startswith("amqp:")
        assert isinstance(rule.level, Level)
        assert rule.description
