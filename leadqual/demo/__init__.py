"""The demo world: a seeded synthetic CRM for development, tests, benchmarks and `make demo`.

`world` generates it (pure), `load` writes it to the database.
"""
