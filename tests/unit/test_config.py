"""cascade.conf: every declared section and option is read from the file
`cascade serve --config` and `cascade worker --config` load, and the sample
in etc/ is the one the code generates."""
from __future__ import annotations

import dataclasses
import pathlib
import re

from cascade import config
from cascade.cli.main import main

SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "etc" / "cascade.conf.sample"
REGENERATE = ".venv/bin/cascade config sample > etc/cascade.conf.sample"


def _other_value(default):
    """A valid value of the option's type that is not its default."""
    if isinstance(default, bool):
        return not default
    if isinstance(default, (int, float)):
        return default + 7
    return f"{default}-changed"


def _changed_settings() -> config.Settings:
    sections = {}
    for section in dataclasses.fields(config.Settings):
        current = getattr(config.Settings(), section.name)
        sections[section.name] = dataclasses.replace(current, **{
            option.name: _other_value(getattr(current, option.name)) for option in dataclasses.fields(current)})
    return config.Settings(**sections)


def test_the_sample_in_etc_is_the_generated_one():
    assert SAMPLE.read_text() == config.sample(), (
        f"{SAMPLE} is stale: options changed in cascade/config.py. Regenerate it with `{REGENERATE}`.")


def test_config_sample_prints_the_sample(capsys):
    assert main(["config", "sample"]) == 0
    assert capsys.readouterr().out == config.sample()


def test_the_sample_names_every_option_and_reads_back_as_the_defaults(tmp_path):
    text = config.sample()
    for section in dataclasses.fields(config.Settings):
        assert f"[{section.name}]" in text
        for option in dataclasses.fields(getattr(config.Settings(), section.name)):
            assert re.search(rf"^#{option.name} =", text, re.MULTILINE), (section.name, option.name)
    uncommented = tmp_path / "cascade.conf"
    uncommented.write_text(re.sub(r"^#(\w+ =)", r"\1", text, flags=re.MULTILINE))
    assert config.load(uncommented) == config.Settings()


def test_every_section_and_option_is_read_from_the_file(tmp_path):
    changed = _changed_settings()
    path = tmp_path / "cascade.conf"
    config.write(changed, path)
    loaded = config.load(path)
    for section in dataclasses.fields(config.Settings):
        assert getattr(loaded, section.name) == getattr(changed, section.name), section.name
    assert loaded.jobs.run_in_api is False and loaded.sync.changes_period == 17.0


def test_options_left_out_keep_their_defaults(tmp_path):
    path = tmp_path / "cascade.conf"
    path.write_text("[DEFAULT]\nreuse_port = true\n\n[jobs]\nconcurrency = 9\n\n[sync]\nchanges_period = 2.5\n")
    loaded = config.load(path)
    assert loaded.DEFAULT.reuse_port is True and loaded.DEFAULT.listen == config.DefaultSection().listen
    assert (loaded.jobs.concurrency, loaded.jobs.run_in_api) == (9, True)
    assert (loaded.sync.changes_period, loaded.sync.sweep_period) == (2.5, config.SyncSection().sweep_period)
    assert loaded.quota == config.QuotaSection()
