"""An impaired network link between two network namespaces, for tests and benchmarks.

The kernel here has no `sch_netem` (CONFIG_NET_SCH_NETEM is not set; `tbf` and `htb` are
built in), so loss, delay and jitter are applied by this small forwarder instead:

    namespace A (caller: browser)          namespace B (server, made here)
    aemuA 10.214.0.1  <-- TUN -- [this process: loss, delay, jitter] -- TUN -->  aemuB 10.214.0.2

Every packet between the two namespaces crosses it, both directions, UDP and TCP alike.
Loss is independent per packet (Bernoulli, like netem's default `loss P%`); delay is
`delay +- jitter` (uniform) per packet, without reordering (a packet never leaves before
the one ahead of it, like netem with a rate). A bandwidth cap uses the kernel's `tbf` on
aemuB, i.e. on the server's egress (the media direction).

    with Link(loss=5.0) as link:   # needs root inside a private namespace (netns-run.sh)
        server = ServerProcess(..., host=link.server_host, wrapper=link.enter_server_ns)

Run as `python -m tests.linkemu --netns-pid PID ...` it is the forwarder itself; it prints
`ready` once both devices are up; on SIGTERM (or EOF on stdin: its owner is gone) it
prints one JSON line of counts per direction and exits, and the devices vanish.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import fcntl
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT_DEV, SERVER_DEV = "aemuA", "aemuB"
CLIENT_ADDR, SERVER_ADDR = "10.214.0.1", "10.214.0.2"
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


@dataclass
class Direction:
    """One way through the link: impairments and counts."""

    name: str
    loss: float  # 0..1
    delay: float  # seconds
    jitter: float  # seconds, +-
    rng: random.Random
    forwarded: int = 0
    dropped: int = 0
    last_release: float = 0.0
    sent_bytes: int = 0
    delays: list[float] = field(default_factory=list)

    def release_time(self, now: float) -> float | None:
        """When the packet read now leaves, or None when it is lost."""
        if self.loss and self.rng.random() < self.loss:
            self.dropped += 1
            return None
        wait = self.delay + (self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)
        release = max(now + max(wait, 0.0), self.last_release)
        self.last_release = release
        self.forwarded += 1
        return release


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def ip(*args: str, netns_pid: int | None = None) -> None:
    prefix = ["nsenter", f"--net=/proc/{netns_pid}/ns/net", "--"] if netns_pid else []
    subprocess.run([*prefix, "ip", *args], check=True)


def forward(opts: argparse.Namespace) -> None:
    """The forwarder process: make the two devices, then move packets until SIGTERM."""
    rng = random.Random(opts.seed)
    client_fd, server_fd = open_tun(CLIENT_DEV), open_tun(SERVER_DEV)
    ip("link", "set", SERVER_DEV, "netns", str(opts.netns_pid))
    ip("addr", "add", CLIENT_ADDR, "peer", SERVER_ADDR, "dev", CLIENT_DEV)
    ip("link", "set", CLIENT_DEV, "up")
    ns = opts.netns_pid
    ip("link", "set", "lo", "up", netns_pid=ns)
    ip("addr", "add", SERVER_ADDR, "peer", CLIENT_ADDR, "dev", SERVER_DEV, netns_pid=ns)
    ip("link", "set", SERVER_DEV, "up", netns_pid=ns)
    impairment = (opts.loss / 100, opts.delay_ms / 1000, opts.jitter_ms / 1000, rng)
    ways = {name: Direction(name, *impairment) for name in ("down", "up")}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def write(fd: int, packet: bytes, way: Direction) -> None:
        try:
            os.write(fd, packet)
            way.sent_bytes += len(packet)
        except OSError:
            way.dropped += 1  # device queue full or going away: counts as lost

    # Delayed packets wait in one FIFO per direction behind a single timer: timers due at
    # the same instant would run in no set order, i.e. reorder packets.
    Queue = collections.deque[tuple[float, bytes]]
    queues: dict[str, Queue] = {name: collections.deque() for name in ways}

    def drain(dst: int, way: Direction) -> None:
        queue = queues[way.name]
        now = loop.time()
        while queue and queue[0][0] <= now:
            write(dst, queue.popleft()[1], way)
        if queue:
            loop.call_at(queue[0][0], drain, dst, way)

    def readable(src: int, dst: int, way: Direction) -> None:
        queue = queues[way.name]
        while True:
            try:
                packet = os.read(src, 65536)
            except BlockingIOError:
                return
            now = loop.time()
            release = way.release_time(now)
            if release is None:
                continue
            if release <= now and not queue:
                write(dst, packet, way)
                continue
            queue.append((release, packet))
            if len(queue) == 1:
                loop.call_at(release, drain, dst, way)

    loop.add_reader(server_fd, readable, server_fd, client_fd, ways["down"])
    loop.add_reader(client_fd, readable, client_fd, server_fd, ways["up"])
    loop.add_reader(sys.stdin.fileno(), stop.set)  # EOF (or anything): our owner is gone
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    loop.run_until_complete(stop.wait())
    loop.close()
    os.close(client_fd)
    os.close(server_fd)
    counts = {
        name: {"forwarded": w.forwarded, "dropped": w.dropped, "bytes": w.sent_bytes}
        for name, w in ways.items()
    }
    with contextlib.suppress(BrokenPipeError):  # the owner may be gone
        print(json.dumps(counts), flush=True)


class Link:
    """A second network namespace for the server, joined to ours by the impaired link.

    Everything it makes lives inside the caller's (private) namespace and vanishes when
    the forwarder and the namespace's holder process end.
    """

    server_host = SERVER_ADDR
    client_host = CLIENT_ADDR

    def __init__(
        self,
        loss: float = 0.0,
        delay_ms: float = 0.0,
        jitter_ms: float = 0.0,
        rate_kbit: int | None = None,
        seed: int = 1,
    ) -> None:
        self.loss, self.delay_ms, self.jitter_ms = loss, delay_ms, jitter_ms
        self.rate_kbit, self.seed = rate_kbit, seed
        self.holder: subprocess.Popen[bytes] | None = None
        self.forwarder: subprocess.Popen[str] | None = None
        self.counts: dict[str, Any] = {}

    @property
    def enter_server_ns(self) -> list[str]:
        """A command prefix that runs a program in the server's namespace (same pid)."""
        assert self.holder is not None
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--"]

    def __enter__(self) -> Link:
        own = os.readlink("/proc/self/ns/net")
        # Both children read a pipe from us and end at its EOF: if this process dies without
        # cleaning up, the namespace and the devices still go.
        self.holder = subprocess.Popen(
            ["unshare", "--net", "cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{self.holder.pid}/ns/net") == own:
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("unshare --net did not make a namespace")
            time.sleep(0.01)
        root = Path(__file__).resolve().parent.parent
        self.forwarder = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.linkemu",
                "--netns-pid",
                str(self.holder.pid),
                "--loss",
                str(self.loss),
                "--delay-ms",
                str(self.delay_ms),
                "--jitter-ms",
                str(self.jitter_ms),
                "--seed",
                str(self.seed),
            ],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.forwarder.stdout is not None
        if self.forwarder.stdout.readline().strip() != "ready":
            self.__exit__()
            raise RuntimeError("link forwarder did not start")
        if self.rate_kbit:
            self.set_rate(self.rate_kbit)
        return self

    def set_rate(self, rate_kbit: int | None) -> None:
        """Cap the server's egress (the media direction) at `rate_kbit` with tbf: a 50 ms
        queue, then tail drop. None lifts the cap. Works while the link is in use."""
        if rate_kbit is None:
            subprocess.run([*self.enter_server_ns, "tc", "qdisc", "del", "dev", SERVER_DEV,
                            "root"], check=True)  # fmt: skip
            self.rate_kbit = None
            return
        burst = max(1600, rate_kbit * 1000 // 8 // 100)  # ~10 ms of the rate
        subprocess.run(
            [*self.enter_server_ns, "tc", "qdisc", "replace", "dev", SERVER_DEV, "root",
             "tbf", "rate", f"{rate_kbit}kbit", "burst", str(burst), "latency", "50ms"],
            check=True,
        )  # fmt: skip
        self.rate_kbit = rate_kbit

    def __exit__(self, *exc: object) -> None:
        if self.forwarder is not None and self.forwarder.poll() is None:
            self.forwarder.send_signal(signal.SIGTERM)
            out, _ = self.forwarder.communicate(timeout=10)
            lines = [line for line in out.splitlines() if line.startswith("{")]
            self.counts = json.loads(lines[-1]) if lines else {}
        if self.holder is not None and self.holder.poll() is None:
            self.holder.terminate()
            self.holder.wait(5)
        for proc in (self.holder, self.forwarder):
            if proc is not None and proc.stdin is not None:
                proc.stdin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netns-pid", type=int, required=True)
    parser.add_argument("--loss", type=float, default=0.0, help="percent, each way")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="each way")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="+- each way")
    parser.add_argument("--seed", type=int, default=1)
    forward(parser.parse_args())


if __name__ == "__main__":
    main()
