"""What a signed statement can be about. Apart from the statements themselves (runner.identity.statement):
every run names its start, and a run whose starter signs nothing needs nothing more."""

from __future__ import annotations

from enum import StrEnum


class Act(StrEnum):
    APPROVE = "approve"
    START = "start"
    RESUME = "resume"
    CANCEL = "cancel"
    ACKNOWLEDGE = "acknowledge"  # a game day's (later an incident's) acknowledgement
