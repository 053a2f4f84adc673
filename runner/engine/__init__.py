"""The step engine: run loop, template context, approvals, dry-run verdicts, retries/timeouts, rollback,
resume."""
