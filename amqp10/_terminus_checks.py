"""What the client checks in the peer's answers before a link is handed to you, written once.

Owns: comparing the source a receiver asked for with the one the peer attached (spec 3.5.3:
the sending end lists only the filters it applies, and states the distribution-mode in force),
and checking that the peer offered ``ANONYMOUS-RELAY`` before an anonymous sender is opened.
Both adapters' ``open_receiver`` / ``open_sender`` (``_calls.py``) and the ``Receiver``
properties (``_views.py``) use it. Must never: change state, wait, or do I/O.
"""

from __future__ import annotations

from typing import Any

from .errors import AnonymousRelayNotOfferedError, SourceDowngradedError

__all__ = [
    "ANONYMOUS_RELAY",
    "ON_DOWNGRADE",
    "filters_in_force",
    "distribution_mode_in_force",
    "source_downgrade",
    "check_anonymous_relay",
]

#: the connection capability that says a null target address routes by ``to``
ANONYMOUS_RELAY = "ANONYMOUS-RELAY"
#: the values of ``open_receiver(on_downgrade=...)``
ON_DOWNGRADE = ("close", "keep")


def filters_in_force(link: Any) -> dict[str, Any]:
    """The filter set the peer says it applies (spec 3.5.3), names as ``str``; ``{}`` for none."""
    source = link.remote_source
    filters = getattr(source, "filter", None) or {}
    return {str(name): value for name, value in filters.items()}


def distribution_mode_in_force(link: Any) -> str | None:
    """The distribution-mode the peer's source states (``"move"``, ``"copy"``), or ``None``."""
    mode = getattr(link.remote_source, "distribution_mode", None)
    return None if mode is None else str(getattr(mode, "value", mode))


def source_downgrade(link: Any, what: str) -> SourceDowngradedError | None:
    """How the peer's attached source falls short of the one ``link`` asked for, or ``None``.

    A filter we asked for that the answer leaves out was not applied (spec 3.5.3 filter). A
    distribution-mode we asked for that the answer does not state (a different one, or none)
    is not in force. ``what`` names the link for the message.
    """
    asked = link.source
    if asked is None or link.remote_source is None:
        return None
    wanted_filters = [str(name) for name in (getattr(asked, "filter", None) or {})]
    granted = filters_in_force(link)
    missing = tuple(name for name in wanted_filters if name not in granted)
    wanted_mode = getattr(asked, "distribution_mode", None)
    wanted_mode = None if wanted_mode is None else str(getattr(wanted_mode, "value", wanted_mode))
    mode = distribution_mode_in_force(link)
    mode_changed = wanted_mode is not None and mode != wanted_mode
    if not missing and not mode_changed:
        return None
    problems = []
    if missing:
        problems.append("did not apply the filter" + ("s " if len(missing) > 1 else " ") + ", ".join(repr(m) for m in missing))
    if mode_changed:
        stated = "stated no distribution-mode" if mode is None else f"stated distribution-mode {mode!r}"
        problems.append(f"{stated} where {wanted_mode!r} was asked for")
    return SourceDowngradedError(
        f"the peer attached the {what} but " + " and ".join(problems),
        condition="amqp:not-implemented",
        missing_filters=missing,
        requested_distribution_mode=wanted_mode,
        distribution_mode=mode,
    )


def check_anonymous_relay(core: Any) -> None:
    """Raise ``AnonymousRelayNotOfferedError`` unless the peer's OPEN offered ANONYMOUS-RELAY."""
    remote = core.engine.remote_open
    offered = getattr(remote, "offered_capabilities", None)
    if offered is None:
        names: tuple[str, ...] = ()
    elif isinstance(offered, str):
        names = (str(offered),)
    else:
        names = tuple(str(name) for name in offered)
    if ANONYMOUS_RELAY not in names:
        shown = ", ".join(names) if names else "none"
        raise AnonymousRelayNotOfferedError(
            f"the peer did not offer {ANONYMOUS_RELAY} in its OPEN (it offered: {shown}), so a sender "
            "with no address would send into nothing: open a sender per address instead",
            condition="amqp:not-implemented",
        )
