"""The cascade's database: `db.Database` (async engine, sessions, migration
on open), the tables in `models`, and one module of typed queries per table
(`sites`, `servers`, `flavors`, `keypairs`, `images`). Routes are written only
by `cascade.routing.table`."""
