"""The one mechanism that holds Ctrl-C and SIGTERM back during reverts: real signals to this process."""

from __future__ import annotations

import signal

import pytest

from runner.gameday.signals import Terminated, deferred_signals, terminate_raises


def test_a_held_signal_is_delivered_after_the_block_to_the_previous_handler() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    finished = False
    with pytest.raises(KeyboardInterrupt), deferred_signals() as held:
        signal.raise_signal(signal.SIGINT)
        finished = True  # the block was not cut short
    assert finished and held == [signal.SIGINT]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_nested_deferrals_hand_the_signal_outwards() -> None:
    with terminate_raises(), deferred_signals(redeliver=False) as outer:
        with deferred_signals() as inner:
            signal.raise_signal(signal.SIGTERM)
        assert inner == [signal.SIGTERM] and outer == [signal.SIGTERM]  # handed on, not raised
    with pytest.raises(Terminated), terminate_raises():
        signal.raise_signal(signal.SIGTERM)  # and SIGTERM raises again once the deferral is over


def test_terminate_raises_restores_what_was_there() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), terminate_raises():
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) == before
