"""/metrics carries the standard process_* figures of the server process itself."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from aether.telemetry.prometheus import render
from tests.unit.test_prometheus import snapshot


def test_the_process_figures_are_this_process() -> None:
    body, _ = render(snapshot())
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    rss = families["process_resident_memory_bytes"].samples[0].value
    with open("/proc/self/status") as status:
        vm_rss = next(int(line.split()[1]) * 1024 for line in status if line[:6] == "VmRSS:")
    assert 0.5 * vm_rss < rss < 2 * vm_rss
    assert families["process_open_fds"].samples[0].value >= 3
