// Interop: a letschat pipeline (gst-launch-1.0 with letschatsink and/or
// letschatsrc) in a call with a WebRTC stack we do not control, through a
// real letschat-server. One matrix cell per invocation:
//
//   node tests/interop/run.mjs <peer> <letschat-first|peer-first> <vp8|h264>
//       <two-way|letschat-sends|letschat-receives> [hangup-sigint|vanish|no-bundle]
//
// <peer> is aiortc, werift or chromium: the program tests/interop/<peer>-party.py
// (run with /usr/bin/python3, which has Debian's python3-aiortc) or .mjs (node),
// written only from docs/protocol.md. Every party follows one contract:
//   <party> --url WS --room ROOM --codec vp8|h264 --send 0|1 --recv 0|1 [--name NAME]
// printing one event a line (joined <id>, peer <id>, offering, answering,
// connection <state>, recv-frames <N>, recv-codec <mime>, error <text>,
// hungup); "hangup" on its stdin closes its peer connection and WebSocket.
//
// Steps, each with a verdict line and its time:
//   join     both parties join, in the cell's order (the second one offers)
//   media    30 frames each way the cell sends (and the codec asked for)
//   hangup   the peer hangs up; the pipeline keeps running, without ERROR
//   rejoin   a new peer process joins (it offers) and media flows again, out
//            of the same letschatsrc pads (video_0/audio_0, no video_1)
//   sigint   SIGINT to gst-launch-1.0 during that second call: gone in 2 s
// "no-bundle" (Chromium only): the peer's offers carry no BUNDLE group, each
// m-line on a transport of its own (bundlePolicy max-compat).
// Variants: "hangup-sigint" ends the first call with the peer hanging up and
// the pipeline getting SIGINT at the same moment (it must still stop in 2 s);
// "vanish" ends it with SIGTERM to the peer, which then closes nothing (a
// tab killed, a machine unplugged) instead of hanging up.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, startPipeline, startProgram, waitFor, cleanup, log } from '../browser/harness.mjs';

const PEERS = ['aiortc', 'werift', 'chromium', 'pion'];
const ORDERS = ['letschat-first', 'peer-first'];
const CODECS = { vp8: 'video/VP8', h264: 'video/H264' };
const MODES = ['two-way', 'letschat-sends', 'letschat-receives'];
const FRAMES = 30;
const SIGINT_LIMIT_MS = 2000;
const CELL_LIMIT_MS = 120000;

const [peerName, order, codec, mode, variant] = process.argv.slice(2);
const usage = 'usage: run.mjs aiortc|werift|chromium|pion letschat-first|peer-first vp8|h264 ' +
  'two-way|letschat-sends|letschat-receives [hangup-sigint|vanish|no-bundle]';
if (!PEERS.includes(peerName) || !ORDERS.includes(order) || !CODECS[codec] || !MODES.includes(mode) ||
    (variant !== undefined && !['hangup-sigint', 'vanish', 'no-bundle'].includes(variant)) ||
    (variant === 'no-bundle' && peerName !== 'chromium')) {
  console.error(usage);
  process.exit(2);
}
// webrtcbin says why it refuses a description only in its debug log: its
// warnings make the tail shown on failure name the cause.
process.env.GST_DEBUG ??= 'webrtcbin:2';
process.env.GST_DEBUG_NO_COLOR ??= '1';

const cell = [peerName, order, codec, mode, variant].filter(Boolean).join(' ');
const room = `interop-${peerName}-${order}-${codec}-${mode}-${process.pid}`;
const letschatSends = mode !== 'letschat-receives';
const letschatReceives = mode !== 'letschat-sends';

function fail(msg) { throw new Error(msg); }

// Every line a process wrote (stdout and stderr), for the tail shown on
// failure and for the checks below; harness.mjs keeps only what it needs
// (stdout without the per-buffer lines, stderr as chunks). Left out: what
// -m -v repeats many times a second (the fakesinks' last-message, the RTP
// sessions' stats), which would bury everything else.
const NOISE = /last-message|\(property-notify\)|: stats = /;
function keepTail(party) {
  party.all = [];
  for (const stream of [party.proc.stdout, party.proc.stderr]) {
    let rest = '';
    stream.on('data', (d) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop();
      for (const line of lines) if (!NOISE.test(line)) party.all.push(line);
    });
  }
  return party;
}

function tail(party, n = 30) {
  return party ? party.all.slice(-n).map((l) => '    ' + l).join('\n') : '    (not started)';
}

// --- the letschat party ----------------------------------------------------

function pipelineDescription(server) {
  const sink = 'videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! ' +
    `letschatsink name=s room=${room} server-url=${server.ws} video-codec=${codec} ` +
    'audiotestsrc is-live=true wave=ticks ! s.';
  const src = `letschatsrc name=r room=${room} server-url=${server.ws} ` +
    'r. ! video/x-raw ! fakesink name=count sync=false silent=false ' +
    'r. ! audio/x-raw ! fakesink sync=false';
  return [letschatSends && sink, letschatReceives && src].filter(Boolean).join(' ');
}

// gst-launch-1.0 prints "ERROR: from element ..." on stderr and, under -m,
// "Got message #N from element "x" (error): ..." on stdout. On a crash its
// fault handler prints "Caught SIGSEGV" and then spins (waits for a
// debugger) instead of exiting: that is a failure too, not a slow call.
function pipelineError(pipeline) {
  return pipeline.all.find((l) => /^ERROR/.test(l) || /^Got message #\d+ .*\(error\)/.test(l) ||
    /^Caught SIG/.test(l));
}

// What went wrong, in one line: the crash, or the ERROR's text with its
// debug text (the line after "Additional debug info:" and the source
// location), and the reasons webrtcbin gave in its warnings
// (GST_DEBUG=webrtcbin:2, below).
function describePipelineError(pipeline) {
  const lines = pipeline.all;
  const crash = lines.find((l) => /^Caught SIG/.test(l));
  const i = lines.findIndex((l) => /^ERROR: from element/.test(l));
  let text;
  if (crash) {
    text = `gst-launch-1.0 crashed: "${crash}" (its fault handler now spins)`;
  } else if (i >= 0) {
    text = 'the pipeline posted an ERROR: ' + lines[i].replace(/^ERROR: from element /, '');
    if (lines[i + 1] === 'Additional debug info:' && lines[i + 3]) text += ` (${lines[i + 3]})`;
  } else {
    text = 'the pipeline posted an ERROR: ' + pipelineError(pipeline);
  }
  const why = lines.map((l) => l.match(/webrtcbin .*(?:returning error|did not find compatible transceiver).*/))
    .filter(Boolean).map((m) => m[0].replace(/^.*webrtcbin\S*> /, '').slice(0, 300));
  return text + (why.length ? `; webrtcbin: ${[...new Set(why)].join('; ')}` : '');
}

// The letschatsrc pads seen: a second call must come out of video_0 and
// audio_0 again. The stronger proof is the media step itself: gst-launch-1.0
// links a sometimes pad ("r. ! video/x-raw ! fakesink name=count") once, so
// buffers of the second call at "count" went through the first call's pad.
// The -v caps lines name the pads
// (".../GstLetsChatSrc:r.GstGhostPad:video_0: caps = ...") and so do its
// letschat/first-frame and stream-started messages ("pad=(string)video_0").
function srcPads(pipeline) {
  const pads = new Set();
  for (const l of pipeline.all) {
    for (const m of l.matchAll(/GstLetsChatSrc:r\.GstGhostPad:(\w+)/g)) pads.add(m[1]);
    if (/letschat\/(first-frame|stream-started)/.test(l))
      for (const m of l.matchAll(/pad=\(string\)"?(\w+)/g)) pads.add(m[1]);
  }
  return [...pads].sort();
}

// Where the call got to, for a timeout's message.
function callState(peer) {
  const pipe = state.pipeline?.lines.filter((l) => l.includes('letschat/connection-state')).pop()
    ?.match(/state=\(string\)(\w+)/)?.[1];
  return `peer: ${peer.lines.filter((l) => l.startsWith('connection ')).pop() || 'no connection state'}, ` +
    `recv-frames ${lastFrames(peer)}; pipeline: connection ${pipe || 'never reported'}`;
}

// --- the peer ----------------------------------------------------------------

function peerProgram() {
  const here = dirname(fileURLToPath(import.meta.url));
  // pion: a Go program (tests/interop/pion-party/), built by meson, which
  // sets LETSCHAT_PION_PARTY; run directly (no interpreter, so no path).
  if (peerName === 'pion') {
    const command = process.env.LETSCHAT_PION_PARTY || join(here, '..', '..', 'build', 'tests', 'interop', 'pion-party');
    if (!existsSync(command)) fail(`no pion party program: ${command} does not exist (built by meson when go is found)`);
    return { command, path: null };
  }
  for (const [ext, command] of [['.py', '/usr/bin/python3'], ['.mjs', process.execPath]]) {
    const path = join(here, `${peerName}-party${ext}`);
    if (existsSync(path)) return { command, path };
  }
  fail(`no party program for ${peerName}: tests/interop/${peerName}-party.py or .mjs does not exist`);
}

function startPeer(server, label) {
  const { command, path } = peerProgram();
  const args = [...(path ? [path] : []), '--url', server.ws, '--room', room, '--codec', codec,
    '--send', letschatReceives ? '1' : '0', '--recv', letschatSends ? '1' : '0', '--name', label,
    ...(variant === 'no-bundle' ? ['--bundle', 'none'] : [])];
  const peer = keepTail(startProgram(label, command, args, { stdin: true }));
  peer.label = label;
  // "hangup" to a peer that already died is EPIPE: its exit is what fails.
  peer.proc.stdin.on('error', () => {});
  state.peers.push(peer);
  return peer;
}

function peerEvent(peer, re) { return peer.lines.find((l) => re.test(l)); }
function lastFrames(peer) {
  const m = peer.lines.filter((l) => l.startsWith('recv-frames ')).pop();
  return m ? Number(m.split(' ')[1]) : 0;
}

// --- the cell ------------------------------------------------------------------

const state = { pipeline: null, peers: [], steps: [] };

// What must hold at every moment of the cell, checked at every poll: the
// pipeline runs and has posted no ERROR; the current peer runs and has
// reported no error.
function checkHealthy(peer) {
  const { pipeline } = state;
  if (pipeline) {
    if (pipelineError(pipeline)) {
      const e = new Error('the pipeline failed');
      e.pipelineError = true;
      throw e;
    }
    if (pipeline.exited !== null) fail(`gst-launch-1.0 exited (${pipeline.exited})`);
  }
  if (peer) {
    const e = peerEvent(peer, /^error /);
    if (e) fail(`${peer.label}: ${e}`);
    if (peer.exited !== null && !peer.lines.includes('hungup')) fail(`${peer.label} exited (${peer.exited})`);
  }
}

// harness.mjs's waitFor, with the health check at every poll; @what may be
// a function, so that a timeout tells the state at that moment.
async function until(what, peer, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    checkHealthy(peer);
    const result = fn();
    if (result) return result;
    if (Date.now() > deadline) fail('timed out waiting for ' + (typeof what === 'function' ? what() : what));
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    const line = `STEP ${name}: PASS (${((Date.now() - t0) / 1000).toFixed(1)} s)${detail ? ' ' + detail : ''}`;
    state.steps.push(line);
    log(line);
  } catch (e) {
    if (e.pipelineError || pipelineError(state.pipeline || { all: [] })) {
      // Its debug lines follow the ERROR line, maybe in the next read.
      await new Promise((r) => setTimeout(r, 300));
      e.message = describePipelineError(state.pipeline) +
        (e.pipelineError ? '' : ` (and: ${e.message})`);
    }
    const line = `STEP ${name}: FAIL (${((Date.now() - t0) / 1000).toFixed(1)} s): ${e.message}`;
    state.steps.push(line);
    log(line);
    throw e;
  }
}

function startLetschat(server) {
  state.pipeline = keepTail(startPipeline('letschat', pipelineDescription(server)));
  return state.pipeline;
}

function waitPipelineJoined() {
  return until('letschat/joined from the pipeline', null,
    () => state.pipeline.lines.some((l) => l.includes('letschat/joined')), 20000);
}

function waitPeerJoined(peer) {
  return until(`${peer.label} to join`, peer, () => peerEvent(peer, /^joined /), 20000);
}

// Media of one call: the peer decodes 30 frames of the codec asked for, and
// the pipeline's "count" fakesink gets 30 more buffers than @countBefore.
async function media(peer, countBefore) {
  const done = [];
  if (letschatSends) {
    await until(() => `${peer.label} to decode ${FRAMES} frames (${callState(peer)})`, peer,
      () => lastFrames(peer) >= FRAMES, 45000);
    const got = await until(`${peer.label} to report recv-codec`, peer, () => peerEvent(peer, /^recv-codec /), 5000);
    const mime = got.split(' ')[1];
    if (mime.toLowerCase() !== CODECS[codec].toLowerCase())
      fail(`${peer.label} decoded ${mime}, the pipeline was asked for ${CODECS[codec]}`);
    done.push(`peer decoded ${lastFrames(peer)} ${mime} frames`);
  }
  if (letschatReceives) {
    const count = () => (state.pipeline.counts.count || 0) - countBefore;
    await until(() => `${FRAMES} buffers at the pipeline's fakesink "count" (got ${count()}; ${callState(peer)})`,
      peer, () => count() >= FRAMES, 45000);
    done.push(`pipeline got ${count()} video buffers`);
  }
  return done.join(', ');
}

// "hangup" on the peer's stdin: it closes its call and its WebSocket and
// exits; the pipeline hears peer-left and must stay up without an ERROR.
// With @vanish, SIGTERM instead: the peer exits at once, closing nothing.
async function hangup(peer, vanish) {
  const leftBefore = state.pipeline.lines.filter((l) => l.includes('letschat/peer-left')).length;
  if (vanish) {
    peer.proc.kill('SIGTERM');
    await until(`${peer.label} to exit on SIGTERM`, null, () => peer.exited !== null, 5000);
  } else {
    peer.proc.stdin.write('hangup\n');
    await until(`${peer.label} to hang up and exit`, peer,
      () => peer.exited !== null && peer.lines.includes('hungup'), 10000);
    if (peer.exited !== 0) fail(`${peer.label} exited with ${peer.exited} after hanging up`);
  }
  await until('letschat/peer-left on the pipeline', null,
    () => state.pipeline.lines.filter((l) => l.includes('letschat/peer-left')).length > leftBefore, 10000);
  // An ERROR (sctpenc "Could not write to resource"...) comes within moments
  // of the peer's close: give it the time to show.
  const quiet = Date.now() + 2000;
  await until('2 s after the hang-up', null, () => Date.now() > quiet, 5000);
}

// SIGINT to gst-launch-1.0: it must be gone within SIGINT_LIMIT_MS.
async function sigint() {
  const { pipeline } = state;
  const before = pipelineError(pipeline);
  const t0 = Date.now();
  pipeline.proc.kill('SIGINT');
  try {
    await waitFor('gst-launch-1.0 to exit', () => pipeline.exited !== null, SIGINT_LIMIT_MS, 20);
  } catch {
    fail(`gst-launch-1.0 still runs ${SIGINT_LIMIT_MS} ms after SIGINT (deadlocked?)`);
  }
  const ms = Date.now() - t0;
  if (pipelineError(pipeline))
    fail(`gst-launch-1.0 exited ${ms} ms after SIGINT, but had failed ${before ? 'before' : 'after'} the SIGINT`);
  return `gst-launch-1.0 exited (${pipeline.exited}) ${ms} ms after SIGINT`;
}

async function main() {
  // The Chromium party's plain page is served from its own origin, which
  // the room server refuses unless told (docs/security.md).
  const server = await startServer(['--allowed-origin', '*']);
  let peer;
  await step('join', async () => {
    if (order === 'letschat-first') {
      startLetschat(server);
      await waitPipelineJoined();
      peer = startPeer(server, `${peerName}-1`);
      await waitPeerJoined(peer);
    } else {
      peer = startPeer(server, `${peerName}-1`);
      await waitPeerJoined(peer);
      startLetschat(server);
      await waitPipelineJoined();
    }
    return `(${order === 'letschat-first' ? 'the peer offers' : 'letschat offers'})`;
  });
  await step('media', () => media(peer, 0));

  if (variant === 'hangup-sigint') {
    await step('hangup+sigint', async () => {
      // Both at once: the pipeline stops while the peer's close (DTLS
      // close_notify, SCTP ABORT, then its WebSocket) arrives. Waiting
      // for the peer to say it closed would be too late: its ABORT is out
      // before it says so.
      peer.proc.stdin.write('hangup\n');
      return sigint();
    });
    return;
  }

  await step(variant === 'vanish' ? 'vanish' : 'hangup', () => hangup(peer, variant === 'vanish'));
  const countBefore = state.pipeline.counts.count || 0;
  await step('rejoin', async () => {
    peer = startPeer(server, `${peerName}-2`);
    await waitPeerJoined(peer);
    const detail = await media(peer, countBefore);
    if (letschatReceives) {
      const pads = srcPads(state.pipeline);
      const extra = pads.filter((p) => !['video_0', 'audio_0'].includes(p));
      if (extra.length) fail(`letschatsrc added pads ${extra.join(', ')} for the second call (pads seen: ${pads.join(', ')})`);
      if (!pads.includes('video_0')) fail(`no video_0 pad seen on letschatsrc (pads seen: ${pads.join(', ') || 'none'})`);
      return `${detail}; letschatsrc pads ${pads.join(', ')}`;
    }
    return detail;
  });
  await step('sigint', () => { checkHealthy(peer); return sigint(); });
}

const guard = setTimeout(async () => {
  console.error(`FAIL ${cell}: the whole cell took over ${CELL_LIMIT_MS / 1000} s`);
  report();
  await cleanup();
  process.exit(1);
}, CELL_LIMIT_MS);

function report() {
  console.error('--- steps:\n' + (state.steps.map((s) => '    ' + s).join('\n') || '    (none)'));
  console.error('--- last 30 lines of gst-launch-1.0:\n' + tail(state.pipeline));
  for (const p of state.peers) console.error(`--- last 30 lines of ${p.label}:\n` + tail(p));
}

try {
  await main();
  log(`PASS ${cell}`);
} catch (e) {
  console.error(`FAIL ${cell}: ${e.message}`);
  report();
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
  await cleanup();
}
