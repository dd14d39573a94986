// Aether player: WebSocket signaling (protocol v1, docs/signaling.md) + one
// receive-only RTCPeerConnection. Reconnects by itself with backoff.
// With ?signal=whep it watches through WHEP instead (POST /whep, docs/whep.md).
"use strict";

(() => {
  const video = document.getElementById("video");
  const stateEl = document.getElementById("state");
  const overlay = document.getElementById("overlay");
  const unmuteBtn = document.getElementById("unmute");
  const fullscreenBtn = document.getElementById("fullscreen");

  // Exposed for tests and debugging: window.aether.pc.getStats() etc.
  const session = {
    pc: null, ws: null, whepResource: null, viewer: null, status: "idle", lastError: null,
    connects: 0, firstFrameMs: null, startedAt: performance.now(),
    samples: [], // the last minute of figures from getStats, newest last (see sampleStats)
  };
  window.aether = session;

  let retries = 0;
  let retryTimer = null;
  let watchdog = null;

  function setStatus(status, text) {
    session.status = status;
    stateEl.dataset.state = status;
    stateEl.textContent = text || status;
    overlay.classList.toggle("quiet", status === "playing");
  }

  // Access token: from the URL fragment (#token=...; fragments never reach servers or
  // proxy logs), kept for this tab so reloads and reconnects work.
  function accessToken() {
    const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
    if (fromHash) sessionStorage.setItem("aether-token", fromHash);
    return fromHash || sessionStorage.getItem("aether-token");
  }

  // #relay=1 in the URL (beside the token): media only through the TURN servers the server
  // names (iceTransportPolicy "relay"), for networks that let nothing else through, or to
  // check a TURN set-up (docs/deployment.md).
  function relayOnly() {
    const relay = new URLSearchParams(location.hash.slice(1)).get("relay");
    return relay === "1" || relay === "true";
  }

  function subprotocols() {
    const token = accessToken();
    return token ? ["aether.v1", `aether-token.${token}`] : ["aether.v1"];
  }

  let denied = false;

  function signalUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/signal`;
  }

  function teardown() {
    clearTimeout(watchdog);
    captureRef = null; // the next connection's stream has RTP timestamps of its own
    frameLatencies = [];
    if (session.pc) { session.pc.close(); session.pc = null; }
    if (session.whepResource) {
      const headers = authHeaders();
      fetch(session.whepResource, { method: "DELETE", headers, keepalive: true }).catch(() => {});
      session.whepResource = null;
    }
    if (session.ws) {
      session.ws.onclose = null;
      session.ws.close();
      session.ws = null;
    }
  }

  function scheduleReconnect(reason) {
    teardown();
    if (retryTimer) return;
    const delay = Math.min(10000, 500 * 2 ** retries) * (0.8 + Math.random() * 0.4);
    retries += 1;
    setStatus("retrying", `${reason}; retrying in ${(delay / 1000).toFixed(1)} s`);
    retryTimer = setTimeout(() => { retryTimer = null; connect(); }, delay);
  }

  function tryPlay() {
    video.play().then(() => {
      unmuteBtn.hidden = !video.muted;
    }).catch(() => {
      unmuteBtn.hidden = false;
    });
  }

  function authHeaders() {
    const token = accessToken();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  function gathered(peer, withinMs) {
    return new Promise((resolve) => {
      if (peer.iceGatheringState === "complete") { resolve(); return; }
      const timer = setTimeout(resolve, withinMs);
      peer.addEventListener("icegatheringstatechange", () => {
        if (peer.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  // WHEP: the page makes the offer (candidates included), the server answers over HTTP.
  async function connectWhep() {
    teardown();
    session.connects += 1;
    session.startedAt = performance.now();
    session.firstFrameMs = null;
    setStatus("connecting", "connecting (WHEP)…");
    const peer = new RTCPeerConnection();
    session.pc = peer;
    const stream = new MediaStream();
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.addTransceiver("audio", { direction: "recvonly" });
    peer.ontrack = (e) => {
      stream.addTrack(e.track);
      if (video.srcObject !== stream) video.srcObject = stream;
      tryPlay();
    };
    peer.onconnectionstatechange = () => onPeerState(peer);
    try {
      await peer.setLocalDescription(await peer.createOffer());
      await gathered(peer, 1000);
      const reply = await fetch("/whep", {
        method: "POST",
        headers: { "Content-Type": "application/sdp", ...authHeaders() },
        body: peer.localDescription.sdp,
      });
      const text = await reply.text();
      if (session.pc !== peer) return; // torn down meanwhile
      if (reply.status === 401 || reply.status === 403 || reply.status === 406) {
        denied = true;
        teardown();
        setStatus("error", reply.status === 406 ? `cannot play here: ${text.trim()}`
          : "access denied: open the link that carries the access token (#token=…)");
        return;
      }
      if (reply.status !== 201) throw new Error(`WHEP ${reply.status}: ${text.trim()}`);
      session.whepResource = new URL(reply.headers.get("Location"), location.href).href;
      await peer.setRemoteDescription({ type: "answer", sdp: text });
    } catch (err) {
      scheduleReconnect(`WHEP failed: ${err.message || err}`);
    }
  }

  function connect() {
    if (new URLSearchParams(location.search).get("signal") === "whep") {
      connectWhep();
      return;
    }
    teardown();
    session.connects += 1;
    session.startedAt = performance.now();
    session.firstFrameMs = null;
    setStatus("connecting", "connecting…");
    const ws = new WebSocket(signalUrl(), subprotocols());
    session.ws = ws;
    const stream = new MediaStream();
    const send = (msg) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg)); };

    ws.onmessage = async (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      const pc = session.pc;
      try {
        switch (msg.type) {
          case "welcome": {
            session.viewer = msg.viewer;
            const iceServers = msg.iceServers || [];
            const relay = relayOnly();
            const hasTurn = iceServers.some((s) => [].concat(s.urls).some((u) => /^turns?:/.test(u)));
            if (relay && !hasTurn) {
              denied = true; // retrying cannot help until the server names a TURN server
              teardown();
              setStatus("error", "relay only (#relay=1), but the server names no TURN server (--turn)");
              return;
            }
            const peer = new RTCPeerConnection({
              iceServers, iceTransportPolicy: relay ? "relay" : "all",
            });
            session.pc = peer;
            peer.ontrack = (e) => {
              stream.addTrack(e.track);
              if (video.srcObject !== stream) video.srcObject = stream;
              tryPlay();
            };
            peer.onicecandidate = (e) => send({
              type: "ice",
              candidate: e.candidate ? e.candidate.candidate : null,
              sdpMLineIndex: e.candidate ? e.candidate.sdpMLineIndex : 0,
            });
            peer.onconnectionstatechange = () => onPeerState(peer);
            break;
          }
          case "offer": {
            await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
            const answer = await pc.createAnswer();
            await pc.setLocalDescription(answer);
            send({ type: "answer", sdp: answer.sdp });
            break;
          }
          case "ice":
            if (pc && msg.candidate) {
              await pc.addIceCandidate({ candidate: msg.candidate, sdpMLineIndex: msg.sdpMLineIndex });
            }
            break;
          case "error":
            session.lastError = msg;
            console.warn("aether:", msg.code, msg.message);
            if (msg.code === "unauthorized" || msg.code === "forbidden") {
              denied = true;
              teardown();
              setStatus("error", "access denied: open the link that carries the access token (#token=…)");
              return;
            }
            if (msg.code === "unsupported-codec") {
              denied = true; // retrying cannot help: this browser cannot decode the stream
              teardown();
              setStatus("error", `cannot play here: ${msg.message}`);
              return;
            }
            setStatus("error", `${msg.code}: ${msg.message}`);
            break;
          case "source":
            // The server lost its capture source (display gone, camera unplugged) and is
            // reopening it; this connection stays up and resumes by itself.
            if (msg.state === "lost") setStatus("source-lost", `video source lost (${msg.detail}); waiting for it to come back…`);
            else if (session.pc && session.pc.connectionState === "connected") setStatus("playing", "live");
            break;
          case "bye":
            if (!denied) scheduleReconnect(`server ended the session (${msg.reason})`);
            break;
          default:
            break;
        }
      } catch (err) {
        console.error("aether: signaling step failed", err);
        scheduleReconnect(`negotiation failed: ${err.message || err}`);
      }
    };
    ws.onclose = () => { if (!denied) scheduleReconnect("signaling connection closed"); };
  }

  function onPeerState(peer) {
    const s = peer.connectionState;
    clearTimeout(watchdog);
    if (s === "connected") {
      retries = 0;
      setStatus("playing", "live");
      watchFirstFrame();
    } else if (s === "disconnected") {
      setStatus("connecting", "connection interrupted…");
      watchdog = setTimeout(() => scheduleReconnect("connection lost"), 5000);
    } else if (s === "failed") {
      scheduleReconnect("connection failed");
    } else {
      setStatus("connecting", `connecting (${s})…`);
    }
  }

  function watchFirstFrame() {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    video.requestVideoFrameCallback(() => {
      if (session.firstFrameMs === null) {
        session.firstFrameMs = performance.now() - session.startedAt;
      }
    });
    watchFrames();
  }

  // Glass-to-glass, measured per presented frame: the server stamps capture times (the
  // abs-capture-time RTP header extension, NTP wall clock); the video receiver's
  // synchronization source pairs the last one with its frame's RTP timestamp
  // (captureRef, read once a second), so any frame's capture time follows from its own
  // RTP timestamp (90 kHz), and requestVideoFrameCallback says when it is displayed.
  // Needs the server's and this machine's clocks in step (NTP).
  const NTP_TO_UNIX_MS = 2208988800000;
  let captureRef = null; // { rtp, captureMs }
  let frameLatencies = []; // since the last sample, ms
  let watching = false;

  function watchFrames() {
    if (watching) return;
    watching = true;
    const step = (_now, meta) => {
      if (captureRef && meta.rtpTimestamp !== undefined) {
        let ticks = (meta.rtpTimestamp - captureRef.rtp) >>> 0; // 32-bit wrap-around
        if (ticks >= 2 ** 31) ticks -= 2 ** 32;
        const capturedMs = captureRef.captureMs + ticks / 90;
        const displayedMs = performance.timeOrigin + meta.expectedDisplayTime;
        if (frameLatencies.length < 1000) frameLatencies.push(displayedMs - capturedMs);
      }
      video.requestVideoFrameCallback(step);
    };
    video.requestVideoFrameCallback(step);
  }

  function updateCaptureRef(pc) {
    const receiver = pc.getReceivers().find((r) => r.track && r.track.kind === "video");
    const sources = receiver && receiver.getSynchronizationSources ? receiver.getSynchronizationSources() : [];
    const source = sources.find((s) => s.captureTimestamp && s.rtpTimestamp !== undefined);
    if (source) captureRef = { rtp: source.rtpTimestamp, captureMs: source.captureTimestamp - NTP_TO_UNIX_MS };
  }

  function glassToGlassMs() {
    const values = frameLatencies.sort((a, b) => a - b);
    frameLatencies = [];
    return values.length ? values[Math.floor(values.length / 2)] : null;
  }

  // Once a second: what this browser measures, for the overlay (an "aether-stats" event)
  // and for the server's /stats (a "stats" signaling message, docs/signaling.md).
  const SAMPLE_MS = 1000;
  const KEEP_SAMPLES = 60;
  let previous = null;

  function selectedPair(report) {
    let pair = null;
    report.forEach((r) => {
      if (r.type === "transport" && r.selectedCandidatePairId) pair = report.get(r.selectedCandidatePairId);
    });
    if (!pair) {
      report.forEach((r) => {
        if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") pair = r;
      });
    }
    return pair;
  }

  function figures(v, pair, prev) {
    const delta = (key) => (prev ? (v[key] || 0) - (prev[key] || 0) : 0);
    const seconds = prev ? (v.timestamp - prev.timestamp) / 1000 : 0;
    const frames = delta("framesDecoded");
    const emitted = delta("jitterBufferEmittedCount");
    const jitterBufferMs = emitted > 0 ? (delta("jitterBufferDelay") / emitted) * 1000 : null;
    const decodeMs = frames > 0 ? (delta("totalDecodeTime") / frames) * 1000 : null;
    // Receipt of a frame's first packet -> decoded: includes the jitter buffer.
    const processingMs = frames > 0 && v.totalProcessingDelay !== undefined
      ? (delta("totalProcessingDelay") / frames) * 1000
      : (jitterBufferMs !== null ? jitterBufferMs + (decodeMs || 0) : null);
    const rttMs = pair && pair.currentRoundTripTime !== undefined ? pair.currentRoundTripTime * 1000 : null;
    return {
      at: Date.now(),
      fps: v.framesPerSecond !== undefined ? v.framesPerSecond : (seconds > 0 ? frames / seconds : null),
      bitrateKbps: seconds > 0 ? (delta("bytesReceived") * 8) / seconds / 1000 : null,
      rttMs,
      jitterBufferMs,
      // One way on the network (RTT/2), then receipt to decoded. Capture, encode and
      // display are not in it; the server adds its encode time.
      latencyMs: rttMs !== null && processingMs !== null ? rttMs / 2 + processingMs : null,
      framesDecoded: v.framesDecoded || 0,
      framesDropped: v.framesDropped || 0,
      freezeCount: v.freezeCount,
      bytesReceived: v.bytesReceived || 0,
      packetsReceived: v.packetsReceived || 0,
      packetsLost: v.packetsLost || 0,
    };
  }

  const round = (x, digits) => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));

  async function sampleStats() {
    const pc = session.pc;
    if (!pc || pc.connectionState !== "connected") { previous = null; return; }
    const report = await pc.getStats();
    let video = null;
    report.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") video = r; });
    if (!video) return;
    const sample = figures(video, selectedPair(report), previous);
    // Measured glass-to-glass goes beside the estimate, never in its place: it can be
    // negative when the clocks are not in step, and latencyMs must not (docs/signaling.md).
    sample.glassToGlassMs = glassToGlassMs(); // the median over the frames shown since the last sample
    updateCaptureRef(pc);
    previous = video;
    session.samples.push(sample);
    if (session.samples.length > KEEP_SAMPLES) session.samples.shift();
    window.dispatchEvent(new CustomEvent("aether-stats", { detail: sample }));
    const ws = session.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({
        type: "stats",
        framesPerSecond: round(sample.fps, 2),
        framesDecoded: sample.framesDecoded,
        framesDropped: sample.framesDropped,
        freezeCount: sample.freezeCount,
        jitterBufferMs: round(sample.jitterBufferMs, 2),
        latencyMs: round(sample.latencyMs, 2),
        glassToGlassMs: round(sample.glassToGlassMs, 2),
        rttMs: round(sample.rttMs, 3),
        bytesReceived: sample.bytesReceived,
        packetsReceived: sample.packetsReceived,
        packetsLost: sample.packetsLost,
      }));
    }
  }

  setInterval(() => { sampleStats().catch((err) => console.debug("aether: stats", err)); }, SAMPLE_MS);

  unmuteBtn.addEventListener("click", () => {
    video.muted = false;
    tryPlay();
  });
  fullscreenBtn.addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.getElementById("stage").requestFullscreen().catch(() => {});
  });
  window.addEventListener("beforeunload", () => {
    if (session.whepResource) teardown();
    if (session.ws && session.ws.readyState === WebSocket.OPEN) {
      session.ws.send(JSON.stringify({ type: "bye", reason: "page closed" }));
    }
  });

  connect();
})();
