// One Chromium party of the network benchmark (bench/network.py), run in
// its own network namespace: headless Debian Chromium (playwright-core, as
// in tests/browser) on the room server's own page, so a browser joins the
// call as people do.
//
//   node bench/network-browser.mjs send|recv PAGE_URL
//
// send: the fake camera (--use-fake-device-for-media-stream) asked for
//       1280x720@30, video only (the letschat parties send no audio either);
//       its picture is the file LETSCHAT_BENCH_CAMERA names (y4m) if set.
// recv: no camera (getUserMedia refused, so the page only receives).
//
// Prints, one line each, on stdout (times: microseconds since 1970, the
// clock letschat-network-party prints too, so lines compare across them):
//   state T_US connected               the page's RTCPeerConnection connected
//   camera W H FPS                     what the fake camera gives (send)
//   recv -1 T_US                       a frame shown in the remote <video>
//                                      (requestVideoFrameCallback; -1: no
//                                      frame number, glass-to-glass is n/a)
//   send T_US BITRATE TARGET AVAILABLE WIDTH HEIGHT FPS REASON
//                                      every 250 ms from getStats: the video
//                                      sent (bytesSent over time, bit/s:
//                                      payload, as letschat's stats count
//                                      it), the encoder's
//                                      targetBitrate, the candidate pair's
//                                      availableOutgoingBitrate (Chromium's
//                                      GCC estimate), the picture sent, and
//                                      qualityLimitationReason
//   rstats T_US JSON                   every 250 ms: inbound-rtp video
//                                      framesDecoded, framesPerSecond,
//                                      freezeCount, totalFreezesDuration,
//                                      packetsLost, nackCount, pliCount
//   pair T_US LTYPE RTYPE PROTOCOL LADDR RADDR
//                                      the selected candidate pair (types,
//                                      udp or tcp, address:port), when first
//                                      known and whenever it changes: the
//                                      line letschat-network-party prints
// Runs until killed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [role, url] = process.argv.slice(2);
if (!['send', 'recv'].includes(role) || !url) {
  console.error('usage: network-browser.mjs send|recv PAGE_URL');
  process.exit(2);
}
const CHROMIUM = process.env.LETSCHAT_CHROMIUM || '/usr/lib/chromium/chromium';
const origin = new URL(url).origin;

const dir = mkdtempSync(join(tmpdir(), 'letschat-net-chromium-'));
let context;
async function quit(code) {
  try { if (context) await context.close(); } catch { /* dying anyway */ }
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => quit(0));

context = await chromium.launchPersistentContext(dir, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream=fps=30', '--use-fake-ui-for-media-stream',
    // the same busy picture as letschat's sender (bench/network.py writes
    // it: videotestsrc pattern=snow, 1280x720@30, looped by Chromium);
    // without it, Chromium's own fake camera (a far simpler picture)
    ...(process.env.LETSCHAT_BENCH_CAMERA
      ? [`--use-file-for-fake-video-capture=${process.env.LETSCHAT_BENCH_CAMERA}`] : []),
    // the page is served over http from the namespace's address: camera
    // access wants a secure origin
    `--unsafely-treat-insecure-origin-as-secure=${origin}`,
    // the receiving page has no camera, so no autoplay with sound
    '--autoplay-policy=no-user-gesture-required'],
});

// Before the page's own script: keep its RTCPeerConnection for getStats,
// and decide what its getUserMedia gets.
await context.addInitScript((sending) => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
  const md = navigator.mediaDevices;
  if (!md) return;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = async () => {
    if (!sending) throw new DOMException('the bench receives only', 'NotAllowedError');
    const stream = await gum({ audio: false, video: { width: { exact: 1280 }, height: { exact: 720 }, frameRate: 30 } });
    const set = stream.getVideoTracks()[0].getSettings();
    window.__camera = `camera ${set.width} ${set.height} ${set.frameRate}`;
    return stream;
  };
  window.__frames = [];
}, role === 'send');

const page = context.pages()[0] || await context.newPage();
page.on('pageerror', (e) => console.error('page error:', e.message));
page.on('console', (m) => { if (m.type() === 'error') console.error('page console:', m.text()); });
await page.goto(url);

// Sampled in the page every 250 ms; frames timed as they are shown.
await page.evaluate((sending) => {
  const us = (ms) => Math.round((performance.timeOrigin + ms) * 1000);
  let watching = null;
  window.__out = [];
  let camera = false;
  let connected = false, last = null, lastPair = null;
  const sample = async () => {
    if (!camera && window.__camera) { camera = true; window.__out.push(window.__camera); }
    const pc = window.__pcs[window.__pcs.length - 1];
    if (!pc) return;
    if (!connected && pc.connectionState === 'connected') {
      connected = true;
      window.__out.push(`state ${us(performance.now())} connected`);
    }
    const v = document.getElementById('remote');
    if (!sending && v && v !== watching && v.requestVideoFrameCallback) {
      watching = v;
      const tick = (now) => { window.__out.push(`recv -1 ${us(now)}`); v.requestVideoFrameCallback(tick); };
      v.requestVideoFrameCallback(tick);
    }
    if (!connected) return;
    const stats = await pc.getStats();
    const now = us(performance.now());
    let out = null, inb = null, pair = null, selected = null;
    stats.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') out = s;
      if (s.type === 'inbound-rtp' && s.kind === 'video') inb = s;
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
      if (s.type === 'transport' && s.selectedCandidatePairId) selected = s.selectedCandidatePairId;
    });
    if (selected && stats.get(selected)) pair = stats.get(selected);
    const lc = pair && stats.get(pair.localCandidateId);
    const rc = pair && stats.get(pair.remoteCandidateId);
    if (lc && rc) {
      const where = (c) => `${c.address || c.ip}:${c.port}`;
      const text = `${lc.candidateType} ${rc.candidateType} ${lc.protocol} ${where(lc)} ${where(rc)}`;
      if (text !== lastPair) {
        lastPair = text;
        window.__out.push(`pair ${now} ${text}`);
      }
    }
    if (sending && out) {
      // payload bytes, as letschat's stats count them (webrtcbin's bytes-sent)
      const bytes = out.bytesSent || 0;
      if (last && now > last.t) {
        const rate = Math.round((bytes - last.bytes) * 8e6 / (now - last.t));
        window.__out.push(`send ${now} ${rate} ${Math.round(out.targetBitrate || 0)} ` +
          `${Math.round((pair && pair.availableOutgoingBitrate) || 0)} ${out.frameWidth || 0} ` +
          `${out.frameHeight || 0} ${out.framesPerSecond || 0} ${out.qualityLimitationReason || '-'}`);
      }
      if (!last || now > last.t) last = { bytes, t: now };
    }
    if (!sending && inb) {
      window.__out.push(`rstats ${now} ` + JSON.stringify({
        framesDecoded: inb.framesDecoded, framesPerSecond: inb.framesPerSecond,
        freezeCount: inb.freezeCount, totalFreezesDuration: inb.totalFreezesDuration,
        packetsLost: inb.packetsLost, nackCount: inb.nackCount, pliCount: inb.pliCount,
        frameWidth: inb.frameWidth, frameHeight: inb.frameHeight,
      }));
    }
  };
  setInterval(() => { sample().catch((e) => console.error('getStats: ' + e.message)); }, 250);
}, role === 'send');

// Lines out of the page, in order, as they come.
for (;;) {
  let lines;
  try {
    lines = await page.evaluate(() => window.__out.splice(0));
  } catch (e) {
    console.error('the page went away:', e.message);
    await quit(1);
  }
  if (lines.length) process.stdout.write(lines.join('\n') + '\n');
  await new Promise((r) => setTimeout(r, 250));
}
