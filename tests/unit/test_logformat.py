"""Log formats: human lines and JSON lines; records about a viewer carry its id."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from aether.config import load_config
from aether.errors import ConfigError
from aether.logsetup import HumanFormatter, JsonFormatter, setup_logging, viewer_log

Capture = tuple[logging.Logger, io.StringIO, "logging.StreamHandler[io.StringIO]"]


@pytest.fixture
def capture() -> Iterator[Capture]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("aether.test.logformat")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)
    logger.propagate = True


def test_json_lines_with_the_viewer_id(capture: Capture) -> None:
    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())
    viewer_log(logger, "7").warning("connection %s", "failed")
    logger.info('plain "quoted" line')
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["viewer"] == "7" and first["message"] == "connection failed"
    assert first["level"] == "warning" and first["logger"] == "aether.test.logformat"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert "viewer" not in second and second["message"] == 'plain "quoted" line'


def test_json_keeps_exceptions_on_one_line(capture: Capture) -> None:
    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "RuntimeError: boom" in json.loads(lines[0])["exception"]


def test_human_lines_prefix_the_viewer(capture: Capture) -> None:
    logger, stream, handler = capture
    handler.setFormatter(HumanFormatter())
    viewer_log(logger, "12").info("admitted (%d watching)", 3)
    logger.info("no viewer here")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("INFO  aether.test.logformat: viewer 12: admitted (3 watching)")
    assert second.endswith("aether.test.logformat: no viewer here")


def test_setup_installs_the_chosen_format() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("info", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        setup_logging("info")
        assert isinstance(root.handlers[0].formatter, HumanFormatter)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_log_format_setting() -> None:
    assert load_config({}, {}).log_format == "human"
    assert load_config({"log_format": "json"}, {}).log_format == "json"
    assert load_config({}, {"AETHER_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError) as err:
        load_config({}, {"AETHER_LOG_FORMAT": "xml"})
    assert err.value.key == "log_format (AETHER_LOG_FORMAT)"
    assert "one of human, json" in str(err.value)


def test_json_format_turns_uncaught_exceptions_into_json_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    try:
        setup_logging("info", "json")
        try:
            raise RuntimeError("in a GStreamer callback")
        except RuntimeError as exc:
            sys.excepthook(RuntimeError, exc, exc.__traceback__)
        thread = threading.Thread(target=lambda: 1 / 0, name="worker")
        thread.start()
        thread.join()
    finally:
        root.handlers[:], level, sys.excepthook, threading.excepthook = saved
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == [
        "uncaught exception",
        "uncaught exception in thread worker",
    ]
    assert "RuntimeError: in a GStreamer callback" in lines[0]["exception"]
    assert "ZeroDivisionError" in lines[1]["exception"]
