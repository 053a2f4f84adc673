"""Who did what, proven: OpenSSH signatures checked against a team's allowed-signers file, and signed
statements bound to exactly the change they approve."""
