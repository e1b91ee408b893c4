// letschat browser client: one party of a two-party room (docs/protocol.md).
// The party that joins second offers; both trickle ICE candidates. Text chat
// rides a data channel labelled "chat" (docs/protocol.md, "Text chat").
'use strict';

const CHAT_LABEL = 'chat';
const CHAT_MAX_BYTES = 4096;    // the same limit as the elements

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// ?codec=VP8|H264 puts that video codec first in what this page offers or
// answers; without it the browser's own order applies.
const preferredCodec = (params.get('codec') || '').toUpperCase();

const call = {
  ws: null, pc: null, dc: null, stream: null, iceServers: [],
  myId: null, peerId: null, pending: [], remoteSet: false, leaving: false,
};
// For people debugging in the console and for tests/browser.
window.letschat = { call, stats: videoStats, sendChat, received: [] };

function setState(text) { $('state').textContent = text; }
function showError(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
}
function addMessage(cls, text) {
  const li = document.createElement('li');
  li.className = cls;
  li.textContent = text;
  $('messages').append(li);
  li.scrollIntoView({ block: 'nearest' });
}

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  for (const d of await navigator.mediaDevices.enumerateDevices()) {
    const sel = d.kind === 'videoinput' ? $('camera') : d.kind === 'audioinput' ? $('microphone') : null;
    if (!sel || !d.deviceId || [...sel.options].some((o) => o.value === d.deviceId)) continue;
    sel.append(new Option(d.label || d.kind, d.deviceId));
  }
}

async function getMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError('This page cannot use your camera or microphone: browsers allow it only over ' +
      'https or on localhost. You can still see and hear the other party.');
    return null;
  }
  const cam = $('camera').value, mic = $('microphone').value;
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: cam ? { deviceId: { exact: cam } } : true,
      audio: mic ? { deviceId: { exact: mic } } : true,
    });
  } catch (err) {
    showError('Could not open the camera or microphone (' + err.name + ': ' + err.message +
      '). You can still see and hear the other party.');
    return null;
  }
}

function send(msg) {
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify(msg));
}

async function join(ev) {
  if (ev) ev.preventDefault();
  const room = $('room').value.trim();
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(room)) {
    showError('A room name is 1 to 64 letters, digits, "_", "." or "-".');
    return;
  }
  showError('');
  history.replaceState(null, '', '/r/' + room + location.search);
  $('join').hidden = true;
  $('call').hidden = false;
  setState('Opening the camera and microphone…');
  call.stream = await getMedia();
  $('local').srcObject = call.stream;
  listDevices().catch(() => {});
  setState('Connecting to the room server…');
  call.leaving = false;
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  call.ws = ws;
  ws.onopen = () => {
    const msg = { type: 'join', room, version: 1 };
    if ($('name').value) msg.name = $('name').value;
    if ($('secret').value) msg.secret = $('secret').value;
    send(msg);
  };
  ws.onmessage = (e) => onServerMessage(JSON.parse(e.data)).catch(fail);
  ws.onclose = (e) => {
    if (call.ws !== ws || call.leaving) return;
    closePeer();
    setState('Disconnected from the room server.');
    showError('The connection to the room server closed' + (e.reason ? ': ' + e.reason : '') +
      ' (code ' + e.code + '). Join again to retry.');
    $('join').hidden = false;
  };
}

async function onServerMessage(msg) {
  switch (msg.type) {
    case 'welcome':
      call.myId = msg.id;
      call.iceServers = msg.ice_servers || [];
      if (msg.peers && msg.peers.length) {
        call.peerId = msg.peers[0].id;
        setState('Connecting to ' + (msg.peers[0].name || 'the other party') + '…');
        await makeOffer();
      } else {
        setState('Waiting for the other party in room ' + msg.room + '…');
      }
      break;
    case 'peer-joined':
      closePeer();
      call.peerId = msg.peer.id;
      setState('Connecting to ' + (msg.peer.name || 'the other party') + '…');
      addMessage('system', (msg.peer.name || 'The other party') + ' joined.');
      break;
    case 'peer-left':
      closePeer();
      call.peerId = null;
      setState('The other party left. Waiting for someone to join…');
      addMessage('system', 'The other party left.');
      break;
    case 'signal':
      await onSignal(msg.data);
      break;
    case 'error':
      showError('The room server refused: ' + msg.message + ' (' + msg.code + ')');
      if (['room-full', 'unauthorized', 'bad-request'].includes(msg.code) && !call.peerId) hangup();
      break;
  }
}

function newPeer() {
  closePeer();
  const pc = new RTCPeerConnection({ iceServers: call.iceServers, bundlePolicy: 'max-bundle' });
  call.pc = pc;
  call.remoteSet = false;
  call.pending = [];
  const remote = new MediaStream();
  $('remote').srcObject = remote;
  pc.ontrack = (e) => { remote.addTrack(e.track); };
  pc.onicecandidate = (e) => {
    // A null candidate ends gathering; the empty one is left out on purpose.
    if (!e.candidate) send({ type: 'signal', data: { ice: null } });
    else if (e.candidate.candidate) send({ type: 'signal', data: { ice: e.candidate.toJSON() } });
  };
  pc.onconnectionstatechange = () => {
    if (pc !== call.pc) return;
    const s = pc.connectionState;
    if (s === 'connected') { setState('Connected.'); showError(''); }
    else if (s === 'failed') {
      setState('The call failed.');
      showError('No network path to the other party was found (ICE failed). A TURN server may be needed.');
    } else if (s === 'disconnected') setState('Connection interrupted, trying to recover…');
  };
  pc.ondatachannel = (e) => { if (e.channel.label === CHAT_LABEL) useChannel(e.channel); };
  for (const track of call.stream ? call.stream.getTracks() : []) pc.addTrack(track, call.stream);
  return pc;
}

function preferCodec(pc) {
  if (!preferredCodec || !window.RTCRtpSender || !RTCRtpSender.getCapabilities) return;
  const caps = RTCRtpSender.getCapabilities('video');
  const rank = (c) => {
    if (c.mimeType.toUpperCase() !== 'VIDEO/' + preferredCodec) return 2;
    // The H264 profile webrtcbin's x264 chain and every browser accept.
    if (preferredCodec === 'H264')
      return /packetization-mode=1/.test(c.sdpFmtpLine) && /profile-level-id=42e0/.test(c.sdpFmtpLine) ? 0 : 1;
    return 0;
  };
  const codecs = caps.codecs.slice().sort((a, b) => rank(a) - rank(b));
  for (const t of pc.getTransceivers()) {
    const kind = t.receiver.track && t.receiver.track.kind;
    if (kind === 'video' && t.setCodecPreferences) t.setCodecPreferences(codecs);
  }
}

// The browser sends the codec the remote description lists first; with
// ?codec= it sends the chosen one whenever the other party accepts it.
async function sendPreferredCodec(pc) {
  if (!preferredCodec) return;
  for (const sender of pc.getSenders()) {
    if (!sender.track || sender.track.kind !== 'video') continue;
    const params = sender.getParameters();
    const codec = (params.codecs || []).find((c) => c.mimeType.toUpperCase() === 'VIDEO/' + preferredCodec);
    if (!codec || !params.encodings || !params.encodings.length) continue;
    params.encodings[0].codec = { mimeType: codec.mimeType, clockRate: codec.clockRate,
      sdpFmtpLine: codec.sdpFmtpLine, channels: codec.channels };
    try { await sender.setParameters(params); } catch (err) { console.warn('cannot send', preferredCodec, err.message); }
  }
}

async function makeOffer() {
  const pc = newPeer();
  const kinds = new Set(pc.getSenders().map((s) => s.track && s.track.kind));
  for (const kind of ['video', 'audio'])
    if (!kinds.has(kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
  useChannel(pc.createDataChannel(CHAT_LABEL));
  preferCodec(pc);
  await pc.setLocalDescription(await pc.createOffer());
  send({ type: 'signal', data: { sdp: { type: 'offer', sdp: pc.localDescription.sdp } } });
}

async function onSignal(data) {
  if (data.sdp) {
    let pc = call.pc;
    if (data.sdp.type === 'offer') {
      pc = newPeer();
      await pc.setRemoteDescription(data.sdp);
      preferCodec(pc);
      await flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: 'signal', data: { sdp: { type: 'answer', sdp: pc.localDescription.sdp } } });
      await sendPreferredCodec(pc);
    } else if (pc) {
      await pc.setRemoteDescription(data.sdp);
      await flushCandidates();
      await sendPreferredCodec(pc);
    }
  } else if (data.ice && data.ice.candidate) {
    // Candidates can outrun the description they belong to: hold them.
    call.pending.push(data.ice);
    if (call.remoteSet || (call.pc && call.pc.remoteDescription)) await flushCandidates();
  }
}

async function flushCandidates() {
  call.remoteSet = true;
  const pc = call.pc;
  while (call.pending.length) {
    const c = call.pending.shift();
    try {
      await pc.addIceCandidate(c);
    } catch (err) {
      // A peer may name an sdpMid that is not in the description; the
      // m-line index still places the candidate.
      try {
        await pc.addIceCandidate({ candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex });
      } catch (err2) { console.warn('candidate refused', JSON.stringify(c), err2.message); }
    }
  }
}

function useChannel(dc) {
  call.dc = dc;
  dc.onopen = () => { $('chat-text').disabled = false; $('chat-send').disabled = false; };
  dc.onclose = () => { if (call.dc === dc) { $('chat-text').disabled = true; $('chat-send').disabled = true; } };
  dc.onmessage = (e) => {
    if (typeof e.data !== 'string') return;  // chat is text only
    if (new TextEncoder().encode(e.data).length > CHAT_MAX_BYTES) {
      console.warn('ignored a chat message over ' + CHAT_MAX_BYTES + ' bytes');
      return;
    }
    window.letschat.received.push(e.data);
    addMessage('them', e.data);
  };
}

function sendChat(text) {
  if (!text) return false;
  if (new TextEncoder().encode(text).length > CHAT_MAX_BYTES) {
    showError('That message is too long: at most ' + CHAT_MAX_BYTES + ' bytes.');
    return false;
  }
  if (!call.dc || call.dc.readyState !== 'open') {
    showError('The chat is not connected yet.');
    return false;
  }
  call.dc.send(text);
  addMessage('me', text);
  return true;
}

function closePeer() {
  if (call.dc) call.dc.close();
  if (call.pc) call.pc.close();
  call.pc = null;
  call.dc = null;
  call.pending = [];
  call.remoteSet = false;
  $('chat-text').disabled = true;
  $('chat-send').disabled = true;
}

function hangup() {
  call.leaving = true;
  send({ type: 'leave' });
  closePeer();
  if (call.ws) call.ws.close(1000);
  call.ws = null;
  if (call.stream) call.stream.getTracks().forEach((t) => t.stop());
  call.stream = null;
  $('local').srcObject = null;
  $('remote').srcObject = null;
  $('call').hidden = true;
  $('join').hidden = false;
  setState('You left the call.');
}

function fail(err) {
  console.error(err);
  setState('The call failed.');
  showError('Something went wrong: ' + (err && err.message ? err.message : err));
}

async function videoStats() {
  const out = { framesDecoded: 0, framesEncoded: 0, codec: null, state: call.pc && call.pc.connectionState };
  if (!call.pc) return out;
  const report = await call.pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.framesDecoded += s.framesDecoded || 0;
      const c = report.get(s.codecId);
      if (c) out.codec = c.mimeType;
    } else if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.framesEncoded += s.framesEncoded || 0;
      const c = report.get(s.codecId);
      if (c) out.sendCodec = c.mimeType;
    }
  });
  return out;
}

$('join').addEventListener('submit', (e) => join(e).catch(fail));
$('hangup').addEventListener('click', hangup);
$('mute').addEventListener('click', (e) => {
  const on = e.target.getAttribute('aria-pressed') !== 'true';
  if (call.stream) call.stream.getAudioTracks().forEach((t) => { t.enabled = !on; });
  e.target.setAttribute('aria-pressed', String(on));
  e.target.textContent = on ? 'Unmute' : 'Mute';
});
$('video').addEventListener('click', (e) => {
  const off = e.target.getAttribute('aria-pressed') !== 'true';
  if (call.stream) call.stream.getVideoTracks().forEach((t) => { t.enabled = !off; });
  e.target.setAttribute('aria-pressed', String(off));
  e.target.textContent = off ? 'Start video' : 'Stop video';
});
$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (sendChat($('chat-text').value)) $('chat-text').value = '';
});

// /r/<room> opens that room at once.
const m = location.pathname.match(/^\/r\/([A-Za-z0-9_.-]{1,64})\/?$/);
if (params.get('name')) $('name').value = params.get('name');
if (m) {
  $('room').value = m[1];
  join().catch(fail);
} else {
  listDevices().catch(() => {});
}
