// The player's stats overlay: live charts and figures from this browser's getStats
// (the "aether-stats" events player.js sends once a second). Toggle with "s" or the button.
"use strict";

(() => {
  const { Chart } = window.AetherCharts;
  const panel = document.getElementById("stats");
  const toggle = document.getElementById("stats-toggle");
  const figures = document.getElementById("stats-figures");
  const charts = {
    bitrate: new Chart(document.getElementById("chart-bitrate"), { label: "bitrate", unit: "kbit/s" }),
    fps: new Chart(document.getElementById("chart-fps"), { label: "fps", unit: "", color: "#6d6" }),
    rtt: new Chart(document.getElementById("chart-rtt"), { label: "RTT", unit: "ms", color: "#fc6", digits: 1 }),
    latency: new Chart(document.getElementById("chart-latency"), { label: "latency", unit: "ms", color: "#f88", digits: 1 }),
  };

  function show(visible) {
    panel.hidden = !visible;
    toggle.setAttribute("aria-pressed", String(visible));
    if (visible) Object.values(charts).forEach((c) => c.draw());
  }

  function row(name, value) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }

  window.addEventListener("aether-stats", ({ detail: s }) => {
    charts.bitrate.push(s.bitrateKbps);
    charts.fps.push(s.fps);
    charts.rtt.push(s.rttMs);
    // measured glass-to-glass when the clocks allow it, else the estimate
    const measured = s.glassToGlassMs !== null && s.glassToGlassMs >= 0;
    charts.latency.label = measured ? "latency" : "latency ≈";
    charts.latency.push(measured ? s.glassToGlassMs : s.latencyMs);
    const fixed = (v, d) => (v === null || v === undefined ? "–" : v.toFixed(d));
    figures.replaceChildren(
      ...row("frames decoded", String(s.framesDecoded)),
      ...row("frames dropped", String(s.framesDropped)),
      ...row("packets lost", String(s.packetsLost)),
      ...row("jitter buffer", `${fixed(s.jitterBufferMs, 1)} ms`),
      ...row("received", `${(s.bytesReceived / 1e6).toFixed(1)} MB`),
    );
  });

  toggle.addEventListener("click", () => show(panel.hidden));
  window.addEventListener("keydown", (e) => {
    if (e.key === "s" && !e.ctrlKey && !e.metaKey && !e.altKey) show(panel.hidden);
  });
})();
