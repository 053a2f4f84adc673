"""Where status updates go: one module per kind of channel (slack, webhook, statuspage, email), each a
settings class parsed from the policy's `channels:` (runner.incident.channels.config) that sends one attempt
of one update and says how it went (runner.incident.channels.base.Answer). Retrying, threads, secrets and
the journal are runner.incident.delivery's: a kind only speaks its protocol.

Nothing here imports a network library at import time: `incident timeline` reads deliveries without them.
"""
