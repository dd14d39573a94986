"""parse_filter: `LEVEL[,logger=LEVEL...]` log filter specs."""

from __future__ import annotations

import logging

import pytest

from aether.config import load_config
from aether.errors import ConfigError
from aether.logsetup import parse_filter


@pytest.mark.parametrize("spec", ["", "   ", ","])
def test_empty_spec_means_info_and_no_overrides(spec: str) -> None:
    assert parse_filter(spec) == (logging.INFO, {})


@pytest.mark.parametrize(
    ("spec", "level"),
    [
        ("debug", logging.DEBUG),
        ("trace", logging.DEBUG),
        ("WARN", logging.WARNING),
        ("warning", logging.WARNING),
        (" Error ", logging.ERROR),
    ],
)
def test_default_level(spec: str, level: int) -> None:
    assert parse_filter(spec) == (level, {})


def test_off_silences_even_critical() -> None:
    default, _ = parse_filter("off")
    assert default > logging.CRITICAL


def test_per_logger_levels() -> None:
    default, per_logger = parse_filter("warn, aether.fanout = debug ,aiohttp=error")
    assert default == logging.WARNING
    assert per_logger == {"aether.fanout": logging.DEBUG, "aiohttp": logging.ERROR}


def test_per_logger_only_keeps_the_default_info() -> None:
    assert parse_filter("aether=debug") == (logging.INFO, {"aether": logging.DEBUG})


def test_later_entries_win() -> None:
    assert parse_filter("debug,error,a=info,a=warn") == (logging.ERROR, {"a": logging.WARNING})


@pytest.mark.parametrize("spec", ["verbose", "info,aether=loud", "aether=", "info;debug"])
def test_bad_level_names_are_rejected_with_the_allowed_levels(spec: str) -> None:
    with pytest.raises(ValueError, match="trace/debug/info/warn/warning/error/off"):
        parse_filter(spec)


@pytest.mark.parametrize("spec", ["=debug", " = debug", "info,=warn"])
def test_empty_logger_name_is_rejected(spec: str) -> None:
    with pytest.raises(ValueError, match="logger name"):
        parse_filter(spec)


def test_bad_filter_in_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        load_config({}, {"AETHER_LOG": "info,aether=chatty"})
    assert err.value.key == "log (AETHER_LOG)"
    assert err.value.value == "info,aether=chatty"
