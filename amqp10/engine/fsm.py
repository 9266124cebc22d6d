"""A table-driven state machine: ``process(input)`` moves along the table or refuses.

Owns: nothing but the current state. Must never: know roles, frames or conditions (h11's rule
2); the caller turns a refusal into a violation (peer input) or ``LocalProtocolError`` (our
own command).
"""

from __future__ import annotations

import enum
from typing import Generic, Mapping, TypeVar

__all__ = ["StateMachine", "TransitionRefused"]

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)


class TransitionRefused(Exception):
    """``input`` is not allowed in ``state`` by the table."""

    def __init__(self, state: enum.Enum, input: enum.Enum) -> None:
        super().__init__(f"{input.name} is not allowed in state {state.name}")
        self.state = state
        self.input = input


class StateMachine(Generic[S, I]):
    """One endpoint's state, moved only through ``table``.

    Args:
        table: ``{(state, input): next_state}``; a missing pair is refused.
        initial: the starting state.
    """

    __slots__ = ("_table", "state")

    def __init__(self, table: Mapping[tuple[S, I], S], initial: S) -> None:
        self._table = table
        self.state = initial

    def can(self, input: I) -> bool:
        """True if ``input`` is allowed now."""
        return (self.state, input) in self._table

    def process(self, input: I) -> S:
        """Apply ``input`` and return the new state.

        Raises:
            TransitionRefused: the table has no transition for (state, input); the state is
                left unchanged.
        """
        try:
            self.state = self._table[(self.state, input)]
        except KeyError:
            raise TransitionRefused(self.state, input) from None
        return self.state
