// An interop party on werift (pure TypeScript WebRTC, pinned in
// package-lock.json), written from docs/protocol.md alone, as somebody
// outside the project would: the command line, stdout and stdin are the
// contract in party-cli.mjs.
//
//   node tests/interop/werift-party.mjs --url ws://127.0.0.1:PORT/ws --room R \
//     --codec vp8|h264 --send 0|1 --recv 0|1 [--name NAME]
//
// werift has no codecs. Sending, a gst-launch-1.0 child encodes a moving
// test picture and a tick sound into RTP on two local UDP ports, and each
// packet goes into a werift track (werift's own examples do the same with
// ffmpeg or GStreamer); receiving, a video frame is an RTP packet with the
// marker bit set. Everything else is werift's default: BUNDLE policy, RTCP,
// header extensions (none), audio codecs; only the video codec list is the
// codec under test. DEBUG=werift* shows werift's own log on stderr.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import WebSocket from 'ws';
import { RTCPeerConnection, MediaStreamTrack, useVP8, useH264, useOPUS, usePCMU } from 'werift';
import { parseArgs, emit, note, onHangup, onSigterm } from './party-cli.mjs';

let opts;
try {
  opts = parseArgs(process.argv.slice(2), 'werift');
} catch (e) {
  console.error(e.message);
  process.exit(2);
}

const children = [];
function stopChildren() {
  for (const c of children) if (c.exitCode === null && !c.signalCode) c.kill('SIGTERM');
}
onSigterm(stopChildren);
process.on('exit', stopChildren);

function fail(what, e) {
  emit(`error ${what}: ${e?.message ?? e}`.replace(/\s*\n\s*/g, ' '));
}

// ---- Media in: gst-launch-1.0 -> UDP -> werift tracks ----

// Local UDP sockets first, so that gst-launch is told ports nobody else has.
async function udpTrack(kind) {
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const track = new MediaStreamTrack({ kind });
  // werift's sender rewrites SSRC, sequence number and timestamp offsets and
  // the payload type (to the negotiated one) of every packet written here,
  // and drops packets until DTLS is up.
  sock.on('message', (packet) => track.writeRtp(packet));
  return { sock, track, port: sock.address().port };
}

function startEncoder(video, audio) {
  // Keyframes every second: gst-launch cannot hear the other side's PLI, and
  // whatever is encoded before DTLS is up (the first keyframe) is dropped.
  const encoder = opts.codec === 'vp8'
    ? 'vp8enc deadline=1 keyframe-max-dist=30 ! rtpvp8pay pt=96 picture-id-mode=15-bit'
    : 'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! ' +
      'video/x-h264,profile=constrained-baseline ! rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency';
  const desc =
    `videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! ${encoder} ! ` +
    `udpsink host=127.0.0.1 port=${video.port} sync=false ` +
    'audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 ! ' +
    `udpsink host=127.0.0.1 port=${audio.port} sync=false`;
  // setpriv --pdeathsig: the encoder dies with this process, however it ends
  // (SIGKILL included), rather than encode for nobody.
  const proc = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'gst-launch-1.0', '-q', ...desc.split(/\s+/)],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(proc);
  proc.stderr.on('data', (d) => note('[gst-launch]', d.toString().trimEnd()));
  proc.on('exit', (code, sig) => { if (!hangingUp) fail('gst-launch-1.0 (the encoder) exited', code ?? sig); });
  return proc;
}

// ---- Media out: counting frames ----

// A keyframe starts in this packet (for the log: a decoder needs one first).
function isKeyframeStart(mime, p) {
  if (mime === 'video/VP8') {
    // RFC 7741: payload descriptor, then the VP8 header of the first partition.
    if (p.length < 1) return false;
    const x = p[0] & 0x80, s = p[0] & 0x10, pid = p[0] & 0x07;
    if (!s || pid) return false;
    let i = 1;
    if (x) {
      const ext = p[i++];
      if (ext & 0x80) i += (p[i] & 0x80) ? 2 : 1; // picture id, 7 or 15 bits
      if (ext & 0x40) i += 1; // TL0PICIDX
      if (ext & 0x30) i += 1; // TID/KEYIDX
    }
    return i < p.length && (p[i] & 0x01) === 0;
  }
  if (mime === 'video/H264') {
    // RFC 6184: an IDR slice or SPS, alone, in a STAP-A, or starting a FU-A.
    const type = p[0] & 0x1f;
    if (type === 5 || type === 7) return true;
    if (type === 24) {
      for (let i = 1; i + 2 < p.length; i += 2 + p.readUInt16BE(i)) {
        const t = p[i + 2] & 0x1f;
        if (t === 5 || t === 7) return true;
      }
    }
    if (type === 28) return (p[1] & 0x80) !== 0 && ((p[1] & 0x1f) === 5);
  }
  return false;
}

// "video/h264" as werift spells it -> "video/H264" as browsers and the
// contract do.
function canonicalMime(mime) {
  const [kind, name] = mime.split('/');
  return kind === 'video' ? `video/${name.toUpperCase()}` : mime;
}

let frames = 0, keyframes = 0, reportedFrames = 0, codecReported = false;
setInterval(() => {
  if (frames > reportedFrames) {
    reportedFrames = frames;
    emit(`recv-frames ${frames}`);
  }
}, 500).unref();

// Counts the video of every transceiver that receives, once the remote
// description has set up its receiver. Not from the track event: werift
// fires none for an offered m-line with port 0 and a=bundle-only (RFC 8843,
// which webrtcbin's max-bundle offers use), although it receives on it.
const watched = new WeakSet();
function watchVideoReceivers(pc) {
  for (const t of pc.getTransceivers()) {
    const track = t.receiver.track; // the SSRC's track (a=ssrc), else the default one
    if (t.kind !== 'video' || watched.has(track)) continue;
    watched.add(track);
    if (track.ssrc !== undefined) note(`watching video receiver mid=${t.mid} ssrc=${track.ssrc}`);
    // Said plainly because werift says nothing (its router logs
    // "ssrcReceiver not found" under DEBUG=werift* and drops the packet).
    else note(`the remote description gives no a=ssrc (nor rid) for video mid=${t.mid}: ` +
      'werift routes received RTP by SSRC only and will drop this stream');
    track.onReceiveRtp.subscribe((rtp) => {
      const codec = t.receiver.codecs[rtp.header.payloadType];
      const mime = codec ? canonicalMime(codec.mimeType) : `payload type ${rtp.header.payloadType}`;
      if (!codecReported && codec) {
        codecReported = true;
        emit(`recv-codec ${mime}`);
      }
      if (isKeyframeStart(mime, rtp.payload)) {
        keyframes++;
        if (keyframes <= 3 || keyframes % 10 === 0) note(`keyframe ${keyframes} at frame ${frames}`);
      }
      if (rtp.header.marker) frames++;
    });
  }
}

// ---- The call ----

let ws, pc = null, role = null, hangingUp = false, iceServers = [];
const media = opts.send ? { video: await udpTrack('video'), audio: await udpTrack('audio') } : null;
if (media) startEncoder(media.video, media.audio);

function send(msg) {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function newPeerConnection() {
  const pc = new RTCPeerConnection({
    // The room's ICE servers (welcome.ice_servers), not werift's default of
    // Google's STUN server.
    iceServers,
    // A codecs object replaces werift's whole default one, so its audio
    // default (Opus, PCMU) is spelled out again.
    codecs: { video: [opts.codec === 'vp8' ? useVP8() : useH264()], audio: [useOPUS(), usePCMU()] },
  });
  pc.connectionStateChange.subscribe((state) => emit(`connection ${state}`));
  pc.iceConnectionStateChange.subscribe((state) => note('ice', state));
  pc.onIceCandidate.subscribe((c) => {
    // werift gives its candidates as RTCIceCandidateInit (toJSON), and
    // undefined once gathering is complete: end of candidates.
    note('ice out:', c ? c.candidate : 'end of candidates');
    send({ type: 'signal', data: { ice: c ? { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex ?? 0, sdpMid: c.sdpMid ?? null } : null } });
  });
  pc.ontrack = (e) => note(`track event: ${e.track.kind}, ssrc ${e.track.ssrc ?? 'none in the SDP'}`);
  pc.onDataChannel.subscribe((dc) => note('data channel', JSON.stringify(dc.label), 'from the offerer'));

  // Transceivers before any description, so that an answer takes the offer's
  // m-lines with them (as addTrack does in a browser).
  const dir = opts.send && opts.recv ? 'sendrecv' : opts.send ? 'sendonly' : 'recvonly';
  if (opts.send) {
    pc.addTransceiver(media.video.track, { direction: dir });
    pc.addTransceiver(media.audio.track, { direction: dir });
  } else if (opts.recv) {
    pc.addTransceiver('video', { direction: dir });
    pc.addTransceiver('audio', { direction: dir });
  }
  return pc;
}

async function offer() {
  role = 'offerer';
  emit('offering');
  pc = newPeerConnection();
  // docs/protocol.md: the offerer opens the chat channel before its offer.
  const dc = pc.createDataChannel('chat');
  dc.stateChanged.subscribe((s) => note('chat channel', s));
  const desc = await pc.createOffer();
  await pc.setLocalDescription(desc);
  note('local offer:\n' + pc.localDescription.sdp);
  send({ type: 'signal', data: { sdp: { type: 'offer', sdp: pc.localDescription.sdp } } });
}

async function onSignal(data) {
  if (data.sdp) {
    note(`remote ${data.sdp.type}:\n` + data.sdp.sdp);
    if (data.sdp.type === 'offer') {
      if (!pc || role === 'offerer') {
        if (pc) await pc.close();
        pc = newPeerConnection();
      }
      role = 'answerer';
      emit('answering');
      await pc.setRemoteDescription(data.sdp);
      if (opts.recv) watchVideoReceivers(pc);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      note('local answer:\n' + pc.localDescription.sdp);
      send({ type: 'signal', data: { sdp: { type: 'answer', sdp: pc.localDescription.sdp } } });
    } else {
      await pc.setRemoteDescription(data.sdp);
      if (opts.recv) watchVideoReceivers(pc);
    }
  } else if ('ice' in data) {
    // Candidates may come before the offer: hold them in a peer connection
    // made now (werift keeps them until the remote description is set).
    note('ice in:', data.ice ? data.ice.candidate : 'end of candidates');
    if (!pc) pc = newPeerConnection();
    try {
      await pc.addIceCandidate(data.ice);
    } catch (e) {
      note('addIceCandidate refused', JSON.stringify(data.ice), e.message);
    }
  }
}

// Messages are handled one after the other: a candidate must not overtake
// the description before it while that one is still being applied.
let queue = Promise.resolve();
function handle(msg) {
  queue = queue.then(() => onMessage(msg)).catch((e) => fail(msg.type, e));
}

async function onMessage(msg) {
  switch (msg.type) {
    case 'welcome':
      emit(`joined ${msg.id}`);
      iceServers = msg.ice_servers ?? [];
      if (msg.peers.length) {
        emit(`peer ${msg.peers[0].id}`);
        await offer();
      }
      break;
    case 'peer-joined':
      emit(`peer ${msg.peer.id}`);
      // A new party brings a new call: it offers, this party answers.
      if (pc) { await pc.close(); pc = null; }
      role = null;
      break;
    case 'peer-left':
      note('peer left', msg.peer.id);
      if (pc) { await pc.close(); pc = null; }
      role = null;
      break;
    case 'signal':
      await onSignal(msg.data);
      break;
    case 'error':
      emit(`error server: ${msg.code}: ${msg.message}`);
      break;
    default:
      note('ignored message', msg.type);
  }
}

ws = new WebSocket(opts.url);
ws.on('open', () => send({ type: 'join', room: opts.room, name: opts.name, version: 1 }));
ws.on('message', (data, isBinary) => {
  if (isBinary) return;
  let msg;
  try { msg = JSON.parse(data.toString()); } catch (e) { return fail('bad JSON from the server', e); }
  handle(msg);
});
ws.on('error', (e) => fail('websocket', e));
ws.on('close', (code) => {
  if (hangingUp) return;
  fail('websocket closed', code);
  stopChildren();
  process.exit(1);
});

onHangup(async () => {
  hangingUp = true;
  // The peer connection first, then the WebSocket, with a closing
  // handshake. werift 0.24's close() sends no DTLS close_notify ("todo impl
  // send alert") and stops DTLS before it aborts SCTP, so (as read in its
  // source) the ABORT has no transport left: the other side sees the media
  // stop and ICE go quiet, and hears of the hang-up from the room server.
  try {
    const within = (p) => Promise.race([p, new Promise((r) => setTimeout(r, 3000))]);
    await within(queue);
    if (pc) await within(pc.close());
  } catch (e) {
    fail('close', e);
  }
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
    const closed = once(ws, 'close');
    ws.close(1000);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
  }
  emit('hungup');
  stopChildren();
  process.exit(0);
});
