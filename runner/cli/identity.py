"""Options every command that acts on a run shares when identities may be verified: `--key`, `--policy`,
and the rule that a typed `--as` does not stand in for a signature."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.journal.store import Journal

key_option = click.option(
    "--key",
    metavar="PATH",
    help="SSH key to sign with (a private key, or the .pub of an ssh-agent key); default $FIRELINE_SIGNING_KEY "
    "or ~/.ssh/id_ed25519. Used when an allowed-signers file is configured.",
)
as_option = click.option("--as", "actor", metavar="NAME", help="Who does this (default: $FIRELINE_ACTOR or login).")
policy_option = click.option(
    "--policy", metavar="FILE", help="Policy file (default $FIRELINE_POLICY, else ./incident-policy.yaml)."
)


def command_journal() -> Journal:
    """The journal a command records in (the one configured for this machine or team)."""
    from runner.journal.store import open_journal

    return open_journal()


def command_actor(actor: str | None) -> str:
    """Who the command acts for: `--as`, else $FIRELINE_ACTOR, else the login name."""
    from runner.engine.session import current_actor

    return current_actor(actor)


def signing(actor: str | None, key: str | None, policy: str | None) -> tuple[Any, Path | None]:
    """(trust, key to sign with) when an allowed-signers file is configured, else (None, None)."""
    from runner.identity.trust import SETTING, load_trust, signing_key

    trust = load_trust(policy)
    if trust is None:
        if key is not None:
            raise UsageError(
                "--key signs approvals only when an allowed-signers file is configured",
                hint=f"configure {SETTING}, or leave --key out",
            )
        return None, None
    if actor is not None:
        raise UsageError(
            "--as is refused: identities are verified by key here (an allowed-signers file is configured)",
            hint="your identity is the principal your key verifies to; choose the key with --key PATH",
        )
    return trust, signing_key(key)


def approver_hint() -> str:
    """How `fireline approve` names the approver here: a key when approvals are signed, else a typed name."""
    from runner.errors import FirelineError
    from runner.identity.trust import load_trust

    try:
        return "--key PATH" if load_trust() is not None else "--as NAME"
    except FirelineError:
        return "--as NAME"
