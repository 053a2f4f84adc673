"""`fireline incident intake --listen HOST:PORT`: receive Alertmanager webhook notifications (the `incident`
group in runner/cli/incident.py adds it). The HTTP server library is imported only here, when it runs."""

from __future__ import annotations

import click

from runner.cli.identity import policy_option


@click.command()
@click.option("--listen", required=True, metavar="HOST:PORT", help="Where to listen, e.g. 127.0.0.1:9797.")
@policy_option
@click.option("--as", "actor", default="alertmanager", show_default=True, metavar="NAME",
              help="Who the incidents' events are recorded as by.")  # fmt: skip
def intake(listen: str, policy: str | None, actor: str) -> int:
    """Receive Alertmanager webhook notifications (POST /alerts): a firing alert group declares an incident,
    or attaches to the open incident declared for the same group; resolved alerts are noted on its timeline.
    Severity, runbook suggestions and an optional bearer token come from the policy's `intake:` section.
    Stops cleanly on SIGTERM or Ctrl-C."""
    from runner.incident.intake import require_token_secret, settings_of
    from runner.incident.intake_server import Config, parse_listen, serve
    from runner.policy import DEFAULT_FILE, policy_in_force, secret_refs
    from runner.secrets import Redactor, resolve_secrets

    where = parse_listen(listen)
    in_force = policy_in_force(policy)
    settings = settings_of(in_force, team_file=in_force.path != DEFAULT_FILE)
    redactor = Redactor()
    token = None
    secret = require_token_secret(settings, in_force)
    if secret is not None:
        token = resolve_secrets({secret: secret_refs(in_force)[secret]}, redactor)[secret]
    config = Config(where, settings, actor=actor.strip() or "alertmanager", token=token, redactor=redactor)

    def ready(address: str) -> None:
        places = ", ".join(str(p) for p in settings.runbooks) or "no runbook directory"
        click.echo(f"listening on http://{address}/alerts", err=False)
        click.echo(f"  token: {'required' if token else 'none'}; runbooks from {places}; "
                   f"read-only steps of the best match run at once: {'yes' if settings.run_reads else 'no'}",
                   err=True)  # fmt: skip

    return serve(config, ready)
