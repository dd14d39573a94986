// Operator page: polls /stats (admin token from the URL fragment, #token=...) once a
// second and shows the server's figures, a few live charts and one row per viewer.
"use strict";

(() => {
  const { Chart } = window.AetherCharts;
  const statusEl = document.getElementById("status");
  const summary = document.getElementById("summary");
  const rows = document.getElementById("viewers");
  const empty = document.getElementById("empty");
  const charts = {
    sent: new Chart(document.getElementById("chart-sent"), { label: "sent", unit: "kbit/s" }),
    fps: new Chart(document.getElementById("chart-fps"), { label: "encoded fps", unit: "", color: "#6d6" }),
    encode: new Chart(document.getElementById("chart-encode"), { label: "encode", unit: "ms", color: "#fc6", digits: 1 }),
    latency: new Chart(document.getElementById("chart-latency"), { label: "mean latency", unit: "ms", color: "#f88", digits: 1 }),
  };
  Object.values(charts).forEach((c) => c.draw()); // empty frames until the first figures
  const admin = { last: null, updates: 0 };
  window.aetherAdmin = admin; // for tests and debugging

  function accessToken() {
    const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fromHash) sessionStorage.setItem("aether-token", fromHash);
    return fromHash || sessionStorage.getItem("aether-token");
  }

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  const show = (v, digits = 0) => (v === null || v === undefined ? "–" : typeof v === "number" ? v.toFixed(digits) : String(v));

  function item(name, value) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    div.append(dt, dd);
    return div;
  }

  function renderSummary(s) {
    summary.replaceChildren(
      item("uptime", `${show(s.uptime_s)} s`),
      item("source", s.source),
      item("encoder", s.encoder),
      item("fps (actual / target)", `${show(s.fps_actual, 1)} / ${s.fps}`),
      item("encode time", `${show(s.encode_ms, 2)} ms`),
      item("encoded", `${show(s.encoded_bitrate_kbps)} kbit/s`),
      item("sent to viewers", `${show(s.sent_bitrate_kbps)} kbit/s`),
      item("frames encoded", show(s.frames_encoded)),
      item("frames dropped", show(s.frames_dropped)),
      item("last frame", `${show(s.last_frame_age_s, 3)} s ago`),
      item("keyframes sent / requested", `${s.keyframes.sent} / ${s.keyframes.requested}`),
      item("viewers (now / limit / since start)", `${s.viewers_now} / ${s.max_viewers} / ${s.viewers_total}`),
    );
  }

  function renderViewers(viewers) {
    rows.replaceChildren(...viewers.map((v) => {
      const video = v.video || {};
      const client = v.client || {};
      const cells = [
        v.id, v.address, v.state, v.ice_state,
        v.candidate_type ? `${v.candidate_type.local} / ${v.candidate_type.remote}` : "–",
        show(v.connected_s), show(v.bitrate_kbps), show(v.rtt_ms, 1), show(video.packets_lost),
        show(video.nack_count), show(video.retransmitted_packets), show(video.pli_count), show(video.jitter_ms, 1),
        show(client.fps, 1), show(client.frames_dropped), show(v.latency_ms, 1),
        show(v.queue_overruns),
      ];
      const tr = document.createElement("tr");
      tr.dataset.viewer = v.id;
      tr.append(...cells.map((text) => {
        const td = document.createElement("td");
        td.textContent = text;
        return td;
      }));
      return tr;
    }));
    empty.hidden = viewers.length > 0;
  }

  let timer = null;

  async function refresh() {
    const token = accessToken();
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    let response;
    try {
      response = await fetch("/stats", { headers, cache: "no-store" });
    } catch (err) {
      setStatus("error", `server unreachable (${err.message || err})`);
      return;
    }
    if (response.status === 401 || response.status === 403) {
      // Stop polling: repeated failures would only make the server back off this address.
      clearInterval(timer);
      setStatus("error", "access denied: open this page as /admin#token=<an admin token>");
      return;
    }
    if (!response.ok) {
      setStatus("error", `/stats answered ${response.status}`);
      return;
    }
    const s = await response.json();
    admin.last = s;
    admin.updates += 1;
    setStatus(s.ready ? "ok" : "warn", s.ready ? "streaming" : `not ready: ${s.not_ready_reason}`);
    const latencies = s.viewers.map((v) => v.latency_ms).filter((x) => x !== null);
    charts.sent.push(s.sent_bitrate_kbps);
    charts.fps.push(s.fps_actual);
    charts.encode.push(s.encode_ms);
    charts.latency.push(latencies.length ? latencies.reduce((a, b) => a + b) / latencies.length : null);
    renderSummary(s);
    renderViewers(s.viewers);
  }

  timer = setInterval(() => { refresh().catch((err) => setStatus("error", String(err))); }, 1000);
  refresh().catch((err) => setStatus("error", String(err)));
})();
