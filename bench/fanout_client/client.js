'use strict';
// Light WebRTC viewers for bench/fanout.py: many libwebrtc peer connections in one Node
// process (@roamhq/wrtc), each speaking Aether's signaling protocol (docs/signaling.md) and
// counting the RTP it receives with getStats, without decoding it.
//
//   node client.js --url ws://127.0.0.1:PORT/signal [--mode aether|aiortc|native]
//                  [--concurrency 4] [--no-keyframe-requests] [--token SECRET]
//
// Control on stdin, one JSON object a line:
//   {"cmd": "add", "count": N}   connect N more viewers (at most --concurrency negotiating)
//   {"cmd": "stats", "id": K}    print one {"type": "stats", "id": K, "viewers": [...]} line
//   {"cmd": "quit"}              say bye on every socket, close every peer, exit
// Events on stdout, one JSON object a line: "connected", "failed", "added" (all of an "add"
// have settled), "stats", "log". Nothing else is printed on stdout.
//
// The server offers H.264, which libwebrtc in @roamhq/wrtc lacks. In --mode aether and
// --mode aiortc the offer applied locally maps the H.264 payload type (96 for Aether) to
// RED (red/90000, the default --video-as red) beside a decoy VP8 payload type that never
// arrives: libwebrtc then counts the packets per SSRC (getStats inbound-rtp) and drops them
// unparsed, decoding nothing. --video-as vp8 maps it to VP8 instead (libwebrtc then fails
// to decode and asks for keyframes). The answer sent back names that payload type
// H264/90000 again, with the fmtp "packetization-mode=1;profile-level-id=42e01f" that
// webrtcbin (and aiortc) need.
//   --mode aether: trickle ICE both ways, as Aether's protocol says (docs/signaling.md).
//   --mode aiortc: the answer goes out once ICE gathering is complete, candidates inline.
//   --mode native: as aiortc, but the SDP is used as it is (a VP8 offer: libwebrtc decodes).
// --no-keyframe-requests: drop "nack pli" and "ccm fir" from the applied offer. libwebrtc,
// failing to decode what it takes for VP8, would otherwise send a PLI every ~70 ms, and the
// server would answer with a key frame for every viewer every 250 ms: load that a real
// viewer does not cause. NACK (and RTX, when offered) stays.

const { RTCPeerConnection } = require('@roamhq/wrtc');
const WebSocket = require('ws');
const readline = require('readline');

const H264_FMTP = 'packetization-mode=1;profile-level-id=42e01f';
const OPUS_FMTP = 'minptime=10;useinbandfec=1'; // what libwebrtc answers for Opus
const NEGOTIATION_TIMEOUT_MS = 30000;

function parseArgs(argv) {
  const opts = { url: '', mode: 'aether', concurrency: 4, videoAs: 'red', audioAs: 'dtmf', dumpSdp: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--url') opts.url = argv[++i];
    else if (arg === '--token') opts.token = argv[++i];
    else if (arg === '--mode') opts.mode = argv[++i];
    else if (arg === '--concurrency') opts.concurrency = Number(argv[++i]);
    else if (arg === '--video-as') opts.videoAs = argv[++i];
    else if (arg === '--audio-as') opts.audioAs = argv[++i];
    else if (arg === '--dump-sdp') opts.dumpSdp = true;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!opts.url) throw new Error('--url is required');
  if (!['red', 'vp8'].includes(opts.videoAs)) throw new Error(`bad --video-as ${opts.videoAs}`);
  if (!['dtmf', 'opus'].includes(opts.audioAs)) throw new Error(`bad --audio-as ${opts.audioAs}`);
  if (!['aether', 'aiortc', 'native'].includes(opts.mode)) throw new Error(`bad --mode ${opts.mode}`);
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function splitLines(sdp) {
  return sdp.split(/\r?\n/).filter((line) => line.length > 0);
}

function joinLines(lines) {
  return lines.join('\r\n') + '\r\n';
}

// Apply `edit(line, section)` to every line; `section` is the m-line's media kind or
// 'session'. edit returns a line, an array of lines, or null to drop it.
function editSdp(sdp, edit) {
  const out = [];
  let section = 'session';
  for (const line of splitLines(sdp)) {
    if (line.startsWith('m=')) section = line.slice(2).split(' ')[0];
    const result = edit(line, section);
    if (result === null) continue;
    if (Array.isArray(result)) out.push(...result);
    else out.push(result);
  }
  return joinLines(out);
}

// The payload type of `codec` (e.g. "H264/90000") in the offer's `kind` section.
function payloadType(sdp, kind, codec) {
  let section = 'session';
  for (const line of splitLines(sdp)) {
    if (line.startsWith('m=')) section = line.slice(2).split(' ')[0];
    const m = /^a=rtpmap:(\d+) (\S+)/.exec(line);
    if (section === kind && m && m[2].toLowerCase() === codec.toLowerCase()) return m[1];
  }
  return null;
}

// A payload type no m-line of `sdp` uses (nor any in `taken`), for a decoy codec.
function freePayloadType(sdp, taken) {
  const used = new Set(taken);
  for (const line of splitLines(sdp)) {
    if (line.startsWith('m=')) for (const p of line.split(' ').slice(3)) used.add(p);
  }
  for (let pt = 127; pt >= 96; pt--) if (!used.has(String(pt))) return String(pt);
  throw new Error('no free payload type');
}

// How to rewrite the offer: one plan per section whose codec libwebrtc must not handle.
//   kind, pt: the section and the server's payload type
//   local: the codec libwebrtc is told it is ("red/90000" drops it unparsed)
//   decoy: a payload type libwebrtc is given for the real codec, which never arrives
//   remote: the rtpmap/fmtp the answer sent to the server carries for pt
function makePlans(sdp) {
  const plans = [];
  const taken = [];
  const h264 = payloadType(sdp, 'video', 'H264/90000');
  if (!h264) throw new Error('the offer has no H.264 video payload type');
  const video = {
    kind: 'video',
    pt: h264,
    remote: [`a=rtpmap:${h264} H264/90000`, `a=fmtp:${h264} ${H264_FMTP}`],
  };
  if (opts.videoAs === 'red') {
    video.local = 'red/90000';
    video.decoy = { pt: freePayloadType(sdp, taken), codec: 'VP8/90000' };
    taken.push(video.decoy.pt);
  } else {
    video.local = 'VP8/90000';
  }
  plans.push(video);
  const opus = payloadType(sdp, 'audio', 'OPUS/48000/2');
  if (opus && opts.audioAs === 'dtmf') {
    plans.push({
      kind: 'audio',
      pt: opus,
      local: 'telephone-event/48000',
      decoy: { pt: freePayloadType(sdp, taken), codec: 'opus/48000/2' },
      remote: [`a=rtpmap:${opus} OPUS/48000/2`, `a=fmtp:${opus} ${OPUS_FMTP}`],
    });
  }
  return plans;
}

function rtpAttribute(line) {
  const m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)[ ]/.exec(line);
  return m ? m[2] : null;
}

// The offer libwebrtc applies.
function mungeOffer(sdp, plans) {
  return editSdp(sdp, (line, section) => {
    const plan = plans.find((p) => p.kind === section);
    if (!plan) return line;
    if (plan.decoy && line.startsWith(`m=${section} `)) return `${line} ${plan.decoy.pt}`;
    if (line.startsWith(`a=rtpmap:${plan.pt} `)) {
      const out = [`a=rtpmap:${plan.pt} ${plan.local}`];
      if (plan.decoy) out.push(`a=rtpmap:${plan.decoy.pt} ${plan.decoy.codec}`);
      return out;
    }
    if (line.startsWith(`a=fmtp:${plan.pt} `)) return null;
    if (plan.decoy && line.startsWith(`a=rtcp-fb:${plan.pt} `)) return null;
    return line;
  });
}

// The answer the server gets: the real codecs again, the decoys gone.
function mungeAnswer(sdp, plans) {
  return editSdp(sdp, (line, section) => {
    const plan = plans.find((p) => p.kind === section);
    if (!plan) return line;
    const decoy = plan.decoy ? plan.decoy.pt : null;
    if (decoy && line.startsWith(`m=${section} `)) {
      const parts = line.split(' ');
      return [...parts.slice(0, 3), ...parts.slice(3).filter((p) => p !== decoy)].join(' ');
    }
    const pt = rtpAttribute(line);
    if (decoy && pt === decoy) return null;
    if (pt === plan.pt && line.startsWith('a=rtpmap:')) return plan.remote;
    if (pt === plan.pt && (line.startsWith('a=fmtp:') || decoy)) return null;
    return line;
  });
}

class Viewer {
  constructor(index) {
    this.index = index;
    this.id = null; // the server's viewer id, from welcome
    this.state = 'new';
    this.serverState = null;
    this.pc = null;
    this.ws = null;
    this.started = Date.now();
    this.connectedMs = null;
    this.error = null;
    this.pendingRemote = [];
    this.answerSent = false;
    this.pendingLocal = [];
    this.settled = null; // resolves once connected or failed
  }

  start() {
    this.settled = new Promise((resolve) => {
      this.resolveSettled = resolve;
    });
    this.timer = setTimeout(() => this.fail('negotiation timeout (client)'), NEGOTIATION_TIMEOUT_MS);
    // A token rides as a subprotocol, as the player sends it (browsers cannot set headers).
    const protocols = opts.token ? ['aether.v1', `aether-token.${opts.token}`] : ['aether.v1'];
    this.ws = new WebSocket(opts.url, protocols);
    this.ws.on('message', (data) => this.onMessage(data).catch((err) => this.fail(String(err))));
    this.ws.on('error', (err) => this.fail(`websocket: ${err.message}`));
    this.ws.on('close', () => {
      if (this.state !== 'closed') this.fail('websocket closed');
    });
    return this.settled;
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  async onMessage(data) {
    const msg = JSON.parse(data.toString());
    switch (msg.type) {
      case 'welcome':
        this.id = msg.viewer;
        this.makePeer(msg.iceServers || []);
        break;
      case 'offer':
        await this.onOffer(msg.sdp);
        break;
      case 'ice':
        if (!msg.candidate) break;
        if (this.pc && this.pc.remoteDescription) await this.addRemote(msg);
        else this.pendingRemote.push(msg);
        break;
      case 'state':
        this.serverState = msg.state;
        break;
      case 'error':
        this.error = `${msg.code}: ${msg.message}`;
        break;
      case 'bye':
        this.fail(`bye from server: ${msg.reason}${this.error ? ` (${this.error})` : ''}`);
        break;
      default:
        break;
    }
  }

  makePeer(iceServers) {
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.onicecandidate = (event) => {
      if (opts.mode !== 'aether') return; // candidates go inline in the answer
      const c = event.candidate;
      const msg = c
        ? { type: 'ice', candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex }
        : { type: 'ice', candidate: null, sdpMLineIndex: 0 };
      if (this.answerSent) this.send(msg);
      else this.pendingLocal.push(msg);
    };
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      if (state === 'connected' && this.connectedMs === null) {
        this.connectedMs = Date.now() - this.started;
        this.state = 'connected';
        clearTimeout(this.timer);
        emit({ type: 'connected', index: this.index, viewer: this.id, ms: this.connectedMs });
        this.resolveSettled(true);
      } else if (state === 'failed') {
        this.fail('peer connection failed');
      } else if (state === 'disconnected' || state === 'closed') {
        if (this.state === 'connected') this.state = state;
      }
    };
  }

  async addRemote(msg) {
    await this.pc.addIceCandidate({ candidate: msg.candidate, sdpMLineIndex: msg.sdpMLineIndex });
  }

  async onOffer(sdp) {
    const pc = this.pc;
    const munge = opts.mode !== 'native';
    const plans = munge ? makePlans(sdp) : [];
    const offer = munge ? mungeOffer(sdp, plans) : sdp;
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    for (const msg of this.pendingRemote.splice(0)) await this.addRemote(msg);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (opts.mode !== 'aether') await this.gatheringComplete(); // candidates inline
    const local = pc.localDescription.sdp;
    this.send({ type: 'answer', sdp: munge ? mungeAnswer(local, plans) : local });
    if (opts.dumpSdp) emit({ type: 'log', offer, answer: local });
    this.answerSent = true;
    for (const msg of this.pendingLocal.splice(0)) this.send(msg);
  }

  gatheringComplete() {
    const pc = this.pc;
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (pc.iceGatheringState === 'complete') resolve();
        else setTimeout(check, 20);
      };
      check();
    });
  }

  fail(reason) {
    if (this.state === 'failed' || this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'failed';
    this.error = this.error || reason;
    clearTimeout(this.timer);
    emit({ type: 'failed', index: this.index, viewer: this.id, reason, wasConnected });
    this.resolveSettled(false);
  }

  async stats() {
    const out = {
      index: this.index,
      viewer: this.id,
      state: this.state,
      pcState: this.pc ? this.pc.connectionState : null,
      connectedMs: this.connectedMs,
      error: this.error,
      inbound: {},
      remoteOutbound: {},
    };
    if (!this.pc || this.state === 'closed') return out;
    const report = await this.pc.getStats();
    const t = Date.now();
    out.t = t;
    for (const s of report.values()) {
      if (s.type === 'inbound-rtp') {
        out.inbound[s.kind] = {
          ssrc: s.ssrc,
          packetsReceived: s.packetsReceived,
          bytesReceived: s.bytesReceived,
          packetsLost: s.packetsLost,
          nackCount: s.nackCount,
          pliCount: s.pliCount,
          firCount: s.firCount,
          jitter: s.jitter,
          framesDecoded: s.framesDecoded,
          framesReceived: s.framesReceived,
          keyFramesDecoded: s.keyFramesDecoded,
        };
      } else if (s.type === 'remote-outbound-rtp') {
        out.remoteOutbound[s.kind] = {
          ssrc: s.ssrc,
          packetsSent: s.packetsSent,
          bytesSent: s.bytesSent,
          remoteTimestamp: s.remoteTimestamp,
          reportsSent: s.reportsSent,
        };
      }
    }
    return out;
  }

  close() {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    this.send({ type: 'bye', reason: 'bench done' });
    try {
      if (this.pc) this.pc.close();
    } catch (err) {
      // closing twice is harmless
    }
    if (this.ws) this.ws.close();
  }
}

const viewers = [];

async function addViewers(count) {
  const todo = [];
  for (let i = 0; i < count; i++) todo.push(new Viewer(viewers.length + i));
  viewers.push(...todo);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const viewer = todo[next++];
      await viewer.start();
    }
  };
  const workers = [];
  for (let i = 0; i < Math.max(1, opts.concurrency); i++) workers.push(worker());
  await Promise.all(workers);
  emit({
    type: 'added',
    total: viewers.length,
    connected: viewers.filter((v) => v.state === 'connected').length,
  });
}

async function handle(line) {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'add') {
    await addViewers(cmd.count);
  } else if (cmd.cmd === 'stats') {
    const all = await Promise.all(viewers.map((v) => v.stats().catch((err) => ({ index: v.index, error: String(err) }))));
    emit({ type: 'stats', id: cmd.id, t: Date.now(), viewers: all });
  } else if (cmd.cmd === 'quit') {
    for (const v of viewers) v.close();
    setTimeout(() => process.exit(0), 300);
  } else {
    emit({ type: 'log', message: `unknown command ${line}` });
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  handle(line).catch((err) => emit({ type: 'log', message: `error: ${err.stack || err}` }));
});
rl.on('close', () => {
  for (const v of viewers) v.close();
  setTimeout(() => process.exit(0), 300);
});
