"""X11 screen capture with ximagesrc: a whole screen, one RandR monitor, or a region."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from dataclasses import dataclass
from typing import Any

from aether import gst
from aether.config import Config, Region
from aether.errors import ConfigError, SourceUnavailableError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Monitor:
    name: str
    x: int
    y: int
    width: int
    height: int
    primary: bool = False


@dataclass(frozen=True)
class DisplayInfo:
    width: int
    height: int
    monitors: tuple[Monitor, ...]


def probe_display(name: str) -> DisplayInfo:
    """Open the X display, read its size and RandR monitors, and close it again."""
    from Xlib import display as xdisplay
    from Xlib import error as xerror

    try:
        conn = xdisplay.Display(name)
    except (xerror.DisplayError, OSError) as exc:
        raise SourceUnavailableError(
            f"cannot open X display {name!r}: {exc}",
            fix="start the X server (or Xvfb), set --display/AETHER_DISPLAY to it and make "
            "sure this user may connect (XAUTHORITY, xhost); or use --source test",
        ) from None
    try:
        screen = conn.screen()
        monitors: list[Monitor] = []
        if conn.has_extension("RANDR"):
            reply = screen.root.xrandr_get_monitors(is_active=True)
            for m in reply.monitors:
                monitors.append(
                    Monitor(
                        name=conn.get_atom_name(m.name),
                        x=m.x,
                        y=m.y,
                        width=m.width_in_pixels,
                        height=m.height_in_pixels,
                        primary=bool(m.primary),
                    )
                )
        return DisplayInfo(screen.width_in_pixels, screen.height_in_pixels, tuple(monitors))
    finally:
        conn.close()


def choose_area(info: DisplayInfo, monitor: str | None, region: Region | None) -> Region:
    """The screen rectangle to capture: a monitor (by name or index), then a region in it."""
    area = Region(0, 0, info.width, info.height)
    if monitor is not None:
        names = [m.name for m in info.monitors]
        found = next((m for m in info.monitors if m.name == monitor), None)
        if (
            found is None
            and monitor.isdecimal()
            and monitor.isascii()
            and int(monitor) < len(info.monitors)
        ):
            found = info.monitors[int(monitor)]
        if found is None:
            listing = ", ".join(f"{i}={n}" for i, n in enumerate(names)) or "none"
            raise ConfigError("monitor", monitor, f"a monitor name or index; known: {listing}")
        area = Region(found.x, found.y, found.width, found.height)
    if region is not None:
        if region.x + region.width > area.width or region.y + region.height > area.height:
            raise ConfigError(
                "region", str(region), f"a rectangle inside {area.width}x{area.height}"
            )
        area = Region(area.x + region.x, area.y + region.y, region.width, region.height)
    return area


class X11Source:
    kind = "x11"

    def __init__(self, config: Config, area: Region) -> None:
        self.config = config
        self.area = area

    @classmethod
    def open(cls, config: Config) -> X11Source:
        info = probe_display(config.display)
        area = choose_area(info, config.monitor, config.region)
        return cls(config, area)

    def describe(self) -> str:
        what = f"monitor {self.config.monitor} " if self.config.monitor else ""
        return f"x11 {self.config.display} {what}{self.area}"

    def elements(self) -> list[Any]:
        a = self.area
        src = gst.make(
            "ximagesrc",
            "capture",
            display_name=self.config.display,
            show_pointer=self.config.cursor,
            use_damage=False,
            startx=a.x,
            starty=a.y,
            endx=a.x + a.width - 1,
            endy=a.y + a.height - 1,
        )
        rate = gst.make(
            "capsfilter",
            "capture-caps",
            caps=gst.caps(f"video/x-raw,framerate={self.config.fps}/1"),
        )
        return [src, rate]


_io_error_handler: Any = None  # the ctypes callback, kept alive for libX11


def on_connection_lost(callback: Any) -> bool:
    """Call `callback()` when libX11 loses an X server connection, instead of exiting.

    libX11 ends the whole process when a display connection breaks (the X server went
    away under ximagesrc); its default I/O error handler returns into exit(). Ours tells
    the server and then parks the capture thread for good: the handler must not return,
    and that thread's ximagesrc is abandoned and replaced once the display is back
    (fanout/pipeline.py). Returns False when libX11 cannot be loaded.
    """
    global _io_error_handler  # noqa: PLW0603 (one handler per process, as libX11 has)
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        libx11 = ctypes.CDLL(name)
    except OSError:
        return False
    handler_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

    def handler(_display: Any) -> int:
        callback()
        threading.Event().wait()  # never returns: returning would exit the process
        return 0

    _io_error_handler = handler_type(handler)
    libx11.XSetIOErrorHandler.restype = ctypes.c_void_p
    libx11.XSetIOErrorHandler.argtypes = [handler_type]
    libx11.XSetIOErrorHandler(_io_error_handler)
    return True
