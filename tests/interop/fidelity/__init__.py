"""Differential fidelity check: one scripted sequence of raw HTTP calls made
straight at a real Nova/Glance site (realstack) and straight at a simcloud
site, recorded on both and compared (status, headers, body keys, types and
values after site-specific ids, URLs and times are normalised, list order).

`python -m tests.interop.fidelity` prints the differences as a table;
`tests/interop/test_fidelity.py` fails on any difference that is not in
`accepted.py` (each of which `docs/simcloud-fidelity.md` explains).
"""
