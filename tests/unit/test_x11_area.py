"""choose_area: which screen rectangle to capture for a monitor and/or region."""

from __future__ import annotations

import pytest

from aether.capture.x11 import DisplayInfo, Monitor, choose_area
from aether.config import Region
from aether.errors import ConfigError

# Two 1920x1080 monitors side by side, the second with a different height.
DUAL = DisplayInfo(
    width=3840,
    height=1200,
    monitors=(
        Monitor("DP-1", 0, 0, 1920, 1200, primary=True),
        Monitor("HDMI-1", 1920, 60, 1920, 1080),
    ),
)


def test_whole_screen_by_default() -> None:
    assert choose_area(DUAL, None, None) == Region(0, 0, 3840, 1200)


@pytest.mark.parametrize(
    ("monitor", "expected"),
    [
        ("DP-1", Region(0, 0, 1920, 1200)),
        ("HDMI-1", Region(1920, 60, 1920, 1080)),
        ("0", Region(0, 0, 1920, 1200)),
        ("1", Region(1920, 60, 1920, 1080)),
    ],
)
def test_monitor_by_name_or_index(monitor: str, expected: Region) -> None:
    assert choose_area(DUAL, monitor, None) == expected


def test_a_monitor_name_wins_over_an_index() -> None:
    info = DisplayInfo(200, 100, (Monitor("1", 0, 0, 100, 100), Monitor("X", 100, 0, 100, 100)))
    assert choose_area(info, "1", None) == Region(0, 0, 100, 100)


@pytest.mark.parametrize("monitor", ["VGA-1", "2", "-1", "dp-1", ""])
def test_unknown_monitor_lists_the_known_ones(monitor: str) -> None:
    with pytest.raises(ConfigError) as err:
        choose_area(DUAL, monitor, None)
    assert err.value.key == "monitor"
    assert err.value.value == monitor
    assert "known: 0=DP-1, 1=HDMI-1" in err.value.allowed


def test_unknown_monitor_without_randr_monitors() -> None:
    with pytest.raises(ConfigError, match="known: none"):
        choose_area(DisplayInfo(1024, 768, ()), "0", None)


def test_digit_like_monitor_names_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        choose_area(DUAL, "\u00b2", None)


def test_region_without_monitor_is_in_screen_coordinates() -> None:
    assert choose_area(DUAL, None, Region(100, 50, 640, 480)) == Region(100, 50, 640, 480)


def test_region_is_relative_to_the_monitor() -> None:
    area = choose_area(DUAL, "HDMI-1", Region(10, 20, 1280, 720))
    assert area == Region(1930, 80, 1280, 720)


def test_region_filling_the_monitor_exactly_is_accepted() -> None:
    area = choose_area(DUAL, "1", Region(0, 0, 1920, 1080))
    assert area == Region(1920, 60, 1920, 1080)


@pytest.mark.parametrize(
    "region",
    [
        Region(700, 0, 1280, 720),  # too wide: would fit the whole screen, not the monitor
        Region(0, 400, 1280, 720),  # too tall
        Region(0, 0, 1921, 1080),
        Region(0, 0, 1920, 1081),
    ],
)
def test_region_larger_than_the_monitor_is_rejected(region: Region) -> None:
    with pytest.raises(ConfigError) as err:
        choose_area(DUAL, "HDMI-1", region)
    assert err.value.key == "region"
    assert err.value.value == str(region)
    assert err.value.allowed == "a rectangle inside 1920x1080"


def test_region_larger_than_the_screen_is_rejected() -> None:
    with pytest.raises(ConfigError, match="inside 3840x1200"):
        choose_area(DUAL, None, Region(3000, 0, 1000, 100))
