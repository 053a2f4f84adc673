"""Step actions, one module per family. Import through `runner.actions.registry`, never directly: families
load lazily so that the CLI starts without importing kubernetes, psycopg or fabric."""
