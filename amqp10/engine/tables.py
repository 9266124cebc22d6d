"""The transition tables: the only place endpoint transitions live (h11's rule).

Each table is plain data, ``{(state, input): next_state}``; a pair that is missing is a
protocol violation (``fsm.py`` turns it into one). The tables do not know which role we play:
client and server differ only in which input comes first.

Must never: hold behaviour, or be edited without the spec diagram next to it.
"""

from __future__ import annotations

from .states import (
    ConnectionInput as CI,
    ConnectionState as CS,
    LinkInput as LI,
    LinkState as LS,
    SessionInput as SI,
    SessionState as SS,
)

__all__ = ["CONNECTION_TRANSITIONS", "SESSION_TRANSITIONS", "LINK_TRANSITIONS"]

# Spec 2.4.6, figure 2.23 (connection state diagram), with the pipelined states:
#
#            R:HDR        S:HDR                 R:HDR[!=S:HDR]
#   START ─────────► HDR_RCVD ──────► HDR_EXCH ──────► ...
#     │ S:HDR                           │ S:OPEN       │ R:OPEN
#     ▼      R:HDR                      ▼              ▼
#   HDR_SENT ─────► HDR_EXCH       OPEN_SENT       OPEN_RCVD
#     │ S:OPEN                          │ R:OPEN       │ S:OPEN
#     ▼      R:HDR                      ▼              ▼
#   OPEN_PIPE ────► OPEN_SENT ────────► OPENED ◄───────┘
#     │ S:CLOSE                       S:CLOSE │   │ R:CLOSE
#     ▼      R:HDR        R:OPEN              ▼   ▼
#   OC_PIPE ─────► CLOSE_PIPE ────► CLOSE_SENT   CLOSE_RCVD
#                                    │ R:CLOSE     │ S:CLOSE
#                                    ▼             ▼
#                                   END ◄──────────┘
#
# DISCARDING is CLOSE_SENT entered because of an error: frames are dropped until the peer's
# CLOSE (spec 2.4.6 "DISCARDING"). Losing the transport ends the connection from any state.
CONNECTION_TRANSITIONS: dict[tuple[CS, CI], CS] = {
    (CS.START, CI.SEND_HEADER): CS.HDR_SENT,
    (CS.START, CI.RECV_HEADER): CS.HDR_RCVD,
    (CS.HDR_RCVD, CI.SEND_HEADER): CS.HDR_EXCH,
    (CS.HDR_SENT, CI.RECV_HEADER): CS.HDR_EXCH,
    (CS.HDR_SENT, CI.SEND_OPEN): CS.OPEN_PIPE,
    (CS.HDR_EXCH, CI.SEND_OPEN): CS.OPEN_SENT,
    (CS.HDR_EXCH, CI.RECV_OPEN): CS.OPEN_RCVD,
    (CS.OPEN_PIPE, CI.RECV_HEADER): CS.OPEN_SENT,
    (CS.OPEN_PIPE, CI.SEND_CLOSE): CS.OC_PIPE,
    (CS.OPEN_PIPE, CI.SEND_CLOSE_ERROR): CS.OC_PIPE,
    (CS.OC_PIPE, CI.RECV_HEADER): CS.CLOSE_PIPE,
    (CS.CLOSE_PIPE, CI.RECV_OPEN): CS.CLOSE_SENT,
    (CS.OPEN_RCVD, CI.SEND_OPEN): CS.OPENED,
    (CS.OPEN_SENT, CI.RECV_OPEN): CS.OPENED,
    (CS.OPEN_SENT, CI.SEND_CLOSE): CS.CLOSE_PIPE,
    (CS.OPEN_SENT, CI.SEND_CLOSE_ERROR): CS.CLOSE_PIPE,
    (CS.OPENED, CI.SEND_CLOSE): CS.CLOSE_SENT,
    (CS.OPENED, CI.SEND_CLOSE_ERROR): CS.DISCARDING,
    (CS.OPENED, CI.RECV_CLOSE): CS.CLOSE_RCVD,
    (CS.CLOSE_RCVD, CI.SEND_CLOSE): CS.END,
    (CS.CLOSE_RCVD, CI.SEND_CLOSE_ERROR): CS.END,
    (CS.CLOSE_SENT, CI.RECV_CLOSE): CS.END,
    (CS.DISCARDING, CI.RECV_CLOSE): CS.END,
    # The peer may close right after its OPEN while ours is still crossing it; after we
    # closed in CLOSE_PIPE, its OPEN then CLOSE walk us to END.
    (CS.CLOSE_PIPE, CI.RECV_CLOSE): CS.END,
    **{(state, CI.TRANSPORT_CLOSED): CS.END for state in CS},
}

# Spec 2.5.5, figure 2.30 (session state diagram):
#
#   UNMAPPED ──S:BEGIN──► BEGIN_SENT ──R:BEGIN──► MAPPED ──S:END──► END_SENT ──R:END──► UNMAPPED
#      └─────R:BEGIN──► BEGIN_RCVD ──S:BEGIN──────┘  └──R:END──► END_RCVD ──S:END──┘
#
# DISCARDING is END_SENT entered because of an error (spec 2.5.5): incoming frames are dropped
# until the peer's END. Ending before the peer's BEGIN arrived is allowed; its late BEGIN is
# then absorbed in END_SENT/DISCARDING.
SESSION_TRANSITIONS: dict[tuple[SS, SI], SS] = {
    (SS.UNMAPPED, SI.SEND_BEGIN): SS.BEGIN_SENT,
    (SS.UNMAPPED, SI.RECV_BEGIN): SS.BEGIN_RCVD,
    (SS.BEGIN_SENT, SI.RECV_BEGIN): SS.MAPPED,
    (SS.BEGIN_SENT, SI.SEND_END): SS.END_SENT,
    (SS.BEGIN_SENT, SI.SEND_END_ERROR): SS.DISCARDING,
    (SS.BEGIN_RCVD, SI.SEND_BEGIN): SS.MAPPED,
    (SS.MAPPED, SI.SEND_END): SS.END_SENT,
    (SS.MAPPED, SI.SEND_END_ERROR): SS.DISCARDING,
    (SS.MAPPED, SI.RECV_END): SS.END_RCVD,
    (SS.END_SENT, SI.RECV_BEGIN): SS.END_SENT,
    (SS.END_SENT, SI.RECV_END): SS.UNMAPPED,
    (SS.DISCARDING, SI.RECV_BEGIN): SS.DISCARDING,
    (SS.DISCARDING, SI.RECV_END): SS.UNMAPPED,
    (SS.END_RCVD, SI.SEND_END): SS.UNMAPPED,
    (SS.END_RCVD, SI.SEND_END_ERROR): SS.UNMAPPED,
}

# Spec 2.6.3 (establishing), 2.6.5 (detaching), 2.6.6 (closing): an attach/detach handshake.
#
#   DETACHED ──S:ATTACH──► ATTACH_SENT ──R:ATTACH──► ATTACHED ──S:DETACH──► DETACH_SENT ──R:DETACH──► DETACHED
#       └────R:ATTACH──► ATTACH_RCVD ──S:ATTACH──────┘   └──R:DETACH──► DETACH_RCVD ──S:DETACH──┘
#
# A link refused by its peer sees ATTACH then DETACH (spec 2.6.3, "the remote peer ... MUST
# follow the attach with a detach"), so ATTACH_SENT also takes R:DETACH; a link may be
# detached before its ATTACH is answered (ATTACH_SENT, S:DETACH; the answer's late ATTACH is
# absorbed in DETACH_SENT); an incoming ATTACH may be refused (ATTACH_RCVD, S:DETACH, which
# the engine sends right after an ATTACH of its own).
LINK_TRANSITIONS: dict[tuple[LS, LI], LS] = {
    (LS.DETACHED, LI.SEND_ATTACH): LS.ATTACH_SENT,
    (LS.DETACHED, LI.RECV_ATTACH): LS.ATTACH_RCVD,
    (LS.ATTACH_SENT, LI.RECV_ATTACH): LS.ATTACHED,
    (LS.ATTACH_SENT, LI.SEND_DETACH): LS.DETACH_SENT,
    (LS.ATTACH_SENT, LI.RECV_DETACH): LS.DETACH_RCVD,
    (LS.ATTACH_RCVD, LI.SEND_ATTACH): LS.ATTACHED,
    (LS.ATTACHED, LI.SEND_DETACH): LS.DETACH_SENT,
    (LS.ATTACHED, LI.RECV_DETACH): LS.DETACH_RCVD,
    (LS.DETACH_SENT, LI.RECV_ATTACH): LS.DETACH_SENT,
    (LS.DETACH_SENT, LI.RECV_DETACH): LS.DETACHED,
    (LS.DETACH_RCVD, LI.SEND_DETACH): LS.DETACHED,
}
