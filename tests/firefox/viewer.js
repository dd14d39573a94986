// A Firefox ESR viewer for the end-to-end tests (tests/e2e/test_firefox.py).
//
//   node viewer.js URL [--firefox /usr/bin/firefox-esr] [--interval-ms 500] [--profile DIR]
//
// --profile: an empty directory for Firefox's profile, which the caller removes (puppeteer's
// own temporary profile, ~40 MB, stays behind when the process exits right after close).
// Opens the player page at URL in headless Firefox (puppeteer-core over WebDriver BiDi) and
// prints one JSON line per interval on stdout: the player's state and its RTCPeerConnection's
// getStats figures. A line {"event": "ready"} comes first once the page is open; errors are
// {"event": "error", "message": ...}. Lines on stdin are commands: `click SELECTOR` clicks an
// element as a user would (a trusted click, so fullscreen and unmute are allowed), then
// prints {"event": "clicked"}. It runs until stdin closes or SIGTERM.
'use strict';

const readline = require('node:readline');
const puppeteer = require('puppeteer-core');

// Autoplay keeps Firefox's default policy (audible autoplay blocked, muted allowed), as
// users have it. Firefox offers H.264 only with the OpenH264 plugin (downloaded at run time, impossible
// here) or hardware H.264: these prefs make it offer H.264 and decode it with libavcodec.
const PREFS = {
  'gfx.blacklist.webrtc.hw.acceleration.h264': 1,
  'media.webrtc.hw.h264.enabled': true,
  'media.navigator.mediadatadecoder_h264_enabled': true,
  'media.gmp-gmpopenh264.enabled': false,
  'media.gmp-manager.url': '',
  // ICE inside the private test namespace: its addresses, unobfuscated.
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
};

// Runs in the page: the player's own session (window.aether) and getStats figures.
const SAMPLE = async () => {
  const session = window.aether;
  if (!session) return { status: 'no-player' };
  const out = {
    status: session.status,
    connects: session.connects,
    lastError: session.lastError,
    viewer: session.viewer,
    state: session.pc ? session.pc.connectionState : null,
    muted: document.getElementById('video').muted,
    paused: document.getElementById('video').paused,
    unmuteShown: !document.getElementById('unmute').hidden,
    samples: session.samples.length,
    lastSample: session.samples.length ? session.samples[session.samples.length - 1] : null,
    fullscreen: Boolean(document.fullscreenElement),
    firstFrameMs: session.firstFrameMs,
  };
  const pc = session.pc;
  if (!pc) return out;
  const report = await pc.getStats();
  const codecs = {};
  report.forEach((r) => { if (r.type === 'codec') codecs[r.id] = r.mimeType; });
  report.forEach((r) => {
    if (r.type === 'inbound-rtp') {
      out[r.kind] = {
        packetsReceived: r.packetsReceived || 0,
        bytesReceived: r.bytesReceived || 0,
        framesDecoded: r.framesDecoded || 0,
        codec: codecs[r.codecId] || null,
      };
    }
  });
  const answer = pc.localDescription ? pc.localDescription.sdp : '';
  out.answerH264 = answer.split(/\r?\n/).filter((l) => /^a=fmtp:\d+ .*profile-level-id/.test(l));
  return out;
};

function print(obj) {
  process.stdout.write(`${JSON.stringify({ at: Date.now(), ...obj })}\n`);
}

function parseArgs(argv) {
  const opts = { url: null, firefox: '/usr/bin/firefox-esr', intervalMs: 500, profile: null };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--firefox') opts.firefox = argv[(i += 1)];
    else if (argv[i] === '--interval-ms') opts.intervalMs = Number(argv[(i += 1)]);
    else if (argv[i] === '--profile') opts.profile = argv[(i += 1)];
    else opts.url = argv[i];
  }
  if (!opts.url) throw new Error('usage: node viewer.js URL [--firefox PATH] [--interval-ms N] [--profile DIR]');
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: opts.firefox,
    headless: true,
    extraPrefsFirefox: PREFS,
    ...(opts.profile ? { userDataDir: opts.profile } : {}),
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const closed = browser.close().catch(() => {});
    const late = new Promise((resolve) => { setTimeout(resolve, 10000); });
    await Promise.race([closed, late]);
    const child = browser.process();
    if (child && child.exitCode === null) child.kill('SIGKILL'); // never leave Firefox behind
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  const page = await browser.newPage();
  const commands = readline.createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    const [verb, ...rest] = line.trim().split(' ');
    if (verb !== 'click') {
      print({ event: 'error', message: `unknown command: ${line}` });
      return;
    }
    page.click(rest.join(' '))
      .then(() => print({ event: 'clicked', selector: rest.join(' ') }))
      .catch((err) => print({ event: 'error', message: `click: ${err.message}` }));
  });
  commands.on('close', stop);

  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warn') print({ event: 'console', text: msg.text() });
  });
  await page.goto(opts.url);
  print({ event: 'ready', version: await browser.version() });
  while (!stopping) {
    try {
      print({ event: 'stats', ...(await page.evaluate(SAMPLE)) });
    } catch (err) {
      print({ event: 'error', message: String(err && err.message ? err.message : err) });
    }
    await new Promise((resolve) => { setTimeout(resolve, opts.intervalMs); });
  }
}

main().catch((err) => {
  print({ event: 'error', message: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
