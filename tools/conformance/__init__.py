"""The conformance table: Tempest's compute (and image) core tier in four
set-ups -- straight at a real site, the cascade over the real sites, straight
at a simcloud site, the cascade over simcloud -- written to
docs/conformance.md. Run it with `bash scripts/conformance`; see
docs/conformance.md for what it does and README.md of the shared harness for
Tempest's options.

Runs under the harness's Python (/opt/conformance/venv: tempest, subunit,
keystoneauth1, PyYAML); it starts the cascade and simcloud from the
project's .venv as subprocesses and imports nothing from either."""
