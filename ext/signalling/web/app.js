// letschat browser client: one party of a two-party room (docs/protocol.md).
// The party that joins second offers; both trickle ICE candidates. Text chat
// rides a data channel labelled "chat" (docs/protocol.md, "Text chat"); the
// page tells the other party when it mutes or stops its camera on a channel
// of its own, "letschat-state" (docs/protocol.md, "Media state").
//
// The call is peer to peer: when the room server goes away the call goes on,
// and the page comes back to the server as the same party (its id), as the
// elements do (docs/protocol.md, "Coming back"). When the server it came
// from names the nodes of its cluster (/cluster.json, letschat-server
// --cluster-url), the page comes back through the next node in turn.
'use strict';

const CHAT_LABEL = 'chat';
const STATE_LABEL = 'letschat-state';
const CHAT_MAX_BYTES = 4096;    // the same limit as the elements
const OFFER_WAIT_MS = 3000;     // as the elements: a returning party may not offer
const ROOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// ?codec=VP8|H264 puts that video codec first in what this page offers or
// answers; without it the browser's own order applies.
const preferredCodec = (params.get('codec') || '').toUpperCase();

const call = {
  ws: null, pc: null, dc: null, stateDc: null, stream: null, iceServers: [],
  room: null, stranger: false, myId: null, peerId: null, peerName: null,
  pending: [], remoteSet: false, offerMade: false, leaving: false,
  joined: false,           // this socket got its welcome
  inRoom: false,           // a welcome came since the user joined: come back on loss
  peerUnconfirmed: false,  // back on the server, the other party not (yet)
  reconnectDelay: 0, reconnectTimer: null, offerWait: null,
  muted: false, videoOff: false, remoteMedia: { audio: true, video: true },
  mediaProblem: '',        // why this page sends no camera or microphone
};
// The room servers this page may use: the one it came from, then the
// others of its cluster, round and round (docs/web-client.md, "Clusters").
const ownServer = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
const servers = { list: [ownServer], index: 0 };
const serversLoaded = loadServers();

// For people debugging in the console and for tests/browser.
window.letschat = {
  call, stats: videoStats, sendChat, received: [], remoteFrames: 0, quality: null,
  reconnections: 0, copiedLink: null, servers,
  get server() { return servers.list[servers.index]; },
};

// A server that names no cluster (or an older one, 404) leaves the page
// with its own server only.
async function loadServers() {
  try {
    const r = await fetch('/cluster.json', { cache: 'no-store' });
    if (!r.ok) return;
    const nodes = ((await r.json()).servers || [])
      .filter((u) => typeof u === 'string' && /^wss?:\/\/./.test(u));
    if (!nodes.length) return;
    servers.list = nodes.includes(ownServer) ? nodes : [ownServer, ...nodes];
    servers.index = servers.list.indexOf(ownServer);
  } catch (e) {
    // the page's own server still works
  }
}

function setState(text) { $('state').textContent = text; }
function showError(text) {
  const e = $('error');
  e.textContent = text;
  e.hidden = !text;
}
function peerLabel() {
  return call.peerName || (call.stranger ? 'The stranger' : 'The other party');
}
function addMessage(cls, who, text) {
  const li = document.createElement('li');
  li.className = cls;
  if (who) {
    const b = document.createElement('span');
    b.className = 'who';
    b.textContent = who + ':';
    li.append(b);
  }
  li.append(text);
  $('messages').append(li);
  li.scrollIntoView({ block: 'nearest' });
}

/* ---------------------------------------------------------------------- */
/* Camera and microphone                                                   */

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, form, inCall] of [['videoinput', 'camera', 'camera-switch'],
    ['audioinput', 'microphone', 'microphone-switch']]) {
    const found = devices.filter((d) => d.kind === kind && d.deviceId);
    for (const id of [form, inCall]) {
      const sel = $(id);
      // In the call the select stands alone: its options say what it is.
      const prefix = id === inCall ? (kind === 'videoinput' ? 'Camera: ' : 'Mic: ') : '';
      for (const d of found)
        if (![...sel.options].some((o) => o.value === d.deviceId))
          sel.append(new Option(prefix + (d.label || kind), d.deviceId));
    }
    // In a call the choice is worth a control only if there is one.
    const track = call.stream && call.stream.getTracks().find((t) => t.kind + 'input' === kind);
    if (track) $(inCall).value = track.getSettings().deviceId || '';
    $(inCall).hidden = !track || found.length < 2;
  }
  window.letschat.devices = devices.map((d) => ({ kind: d.kind, id: d.deviceId, label: d.label }));
}

async function getMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    call.mediaProblem = 'This page cannot use your camera or microphone: browsers allow it ' +
      'only over https or on localhost. You can still see and hear the other party.';
    showError(call.mediaProblem);
    return null;
  }
  const cam = $('camera').value, mic = $('microphone').value;
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: cam ? { deviceId: { exact: cam } } : true,
      audio: mic ? { deviceId: { exact: mic } } : true,
    });
  } catch (err) {
    call.mediaProblem = 'Could not open the camera or microphone (' + err.name + ': ' +
      err.message + '). You can still see and hear the other party.';
    showError(call.mediaProblem);
    return null;
  }
}

// Another camera or microphone during the call: the sender keeps its place
// in the call (replaceTrack), so nothing is negotiated again.
async function switchDevice(kind, deviceId) {
  if (!call.stream || !deviceId) return;
  const old = call.stream.getTracks().find((t) => t.kind === kind);
  if (old && old.getSettings().deviceId === deviceId) return;
  let fresh;
  try {
    fresh = (await navigator.mediaDevices.getUserMedia({ [kind]: { deviceId: { exact: deviceId } } }))
      .getTracks()[0];
  } catch (err) {
    showError('Could not switch to that ' + (kind === 'video' ? 'camera' : 'microphone') +
      ' (' + err.name + ': ' + err.message + ').');
    return;
  }
  fresh.enabled = kind === 'video' ? !call.videoOff : !call.muted;
  const sender = call.pc && call.pc.getSenders().find((s) => s.track && s.track.kind === kind);
  if (sender) await sender.replaceTrack(fresh);
  if (old) { call.stream.removeTrack(old); old.stop(); }
  call.stream.addTrack(fresh);
  // A new stream object makes the self-view take the new track.
  if (kind === 'video') $('local').srcObject = new MediaStream(call.stream.getVideoTracks());
  window.letschat.switched = (window.letschat.switched || 0) + 1;
}

/* ---------------------------------------------------------------------- */
/* The room server                                                         */

function send(msg) {
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify(msg));
}

function roomLink(room) { return location.origin + '/r/' + room; }

// Join @room, or the strangers' queue when @room is null.
async function start(room) {
  showError('');
  call.stranger = room === null;
  call.mediaProblem = '';
  call.room = room;
  call.myId = null;
  call.inRoom = false;
  call.leaving = false;
  if (room !== null) history.replaceState(null, '', '/r/' + room + location.search);
  $('start').hidden = true;
  $('call').hidden = false;
  document.body.classList.add('in-call');
  $('next').hidden = !call.stranger;
  $('copy-link').hidden = call.stranger;
  $('local-name').textContent = $('name').value ? 'You (' + $('name').value + ')' : 'You';
  setState('Opening the camera and microphone…');
  call.stream = await getMedia();
  if (call.leaving) return;
  $('local').srcObject = call.stream;
  // Without a camera or microphone there is nothing to mute or stop.
  $('mute').hidden = !hasTrack('audio');
  $('video').hidden = !hasTrack('video');
  if (!hasTrack('video')) $('local-name').textContent += ', no camera';
  listDevices().catch(() => {});
  await serversLoaded;
  if (call.leaving) return;
  connect();
}

function connect() {
  clearTimeout(call.reconnectTimer);
  call.reconnectTimer = null;
  call.joined = false;
  if (!call.inRoom) setState('Connecting to the room server…');
  const ws = new WebSocket(servers.list[servers.index]);
  call.ws = ws;
  ws.onopen = () => sendJoin();
  ws.onmessage = (e) => { if (call.ws === ws) onServerMessage(JSON.parse(e.data)).catch(fail); };
  ws.onclose = () => { if (call.ws === ws && !call.leaving) serverLost(); };
}

function sendJoin() {
  const msg = { type: 'join', version: 1 };
  // A stranger still waiting for a pair asks again (its waiting room went
  // with the server); one in a call comes back to the room the server made.
  if (call.room !== null && !(call.stranger && !call.peerId)) msg.room = call.room;
  if ($('name').value) msg.name = $('name').value;
  if ($('secret').value && !call.stranger) msg.secret = $('secret').value;
  if (call.myId) msg.id = call.myId;
  send(msg);
}

// The socket closed without our asking: the server restarted, or the
// network blinked. The call, peer to peer, goes on; come back as the same
// party, after 250 ms, 500 ms, then every second, as the elements do,
// through the next node of the cluster if there is one.
function serverLost() {
  call.ws = null;
  call.joined = false;
  servers.index = (servers.index + 1) % servers.list.length;
  const inCall = call.pc && call.pc.connectionState === 'connected';
  setState(inCall ? 'Connected. The room server is unreachable: reconnecting to it…'
    : 'The room server is unreachable: reconnecting…');
  call.reconnectDelay = call.reconnectDelay ? Math.min(call.reconnectDelay * 2, 1000) : 250;
  call.reconnectTimer = setTimeout(connect, call.reconnectDelay);
}

// What a refused join means for the person at the page, and what to do.
function refusalText(msg) {
  const room = call.room ? '"' + call.room + '"' : '';
  switch (msg.code) {
    case 'room-full':
      return 'Room ' + room + ' already has two people in it, and a room holds two. ' +
        'Choose another room name, or join again when one of them has left.';
    case 'unauthorized':
      return $('secret').value
        ? 'Room ' + room + ' is protected by a secret, and the one you typed is not it. ' +
          'Check the secret with whoever gave you the link, and join again.'
        : 'Room ' + room + ' needs a secret. Ask whoever gave you the link for it, type it ' +
          'under Secret, and join again.';
    case 'rate-limited':
      return 'The room server is too busy to take you now (' + msg.message +
        '). Try again in a minute.';
    default:
      return 'The room server refused to let you in: ' + msg.message + ' (' + msg.code + ').';
  }
}

// A refused join ends the attempt: back to the form, with what happened.
function refused(msg) {
  const text = refusalText(msg);
  leaveCall();
  setState(call.stranger ? 'Could not meet a stranger.' : 'Could not join room ' + call.room + '.');
  showError(text);
  if (msg.code === 'unauthorized') $('secret').focus();
}

async function onServerMessage(msg) {
  switch (msg.type) {
    case 'welcome': {
      const back = call.inRoom;
      call.joined = call.inRoom = true;
      call.reconnectDelay = 0;
      call.myId = msg.id;
      call.room = msg.room;
      call.iceServers = msg.ice_servers || [];
      if (back) window.letschat.reconnections++;
      const peer = msg.peers && msg.peers[0];
      if (back && peer && peer.id === call.peerId) {
        // Both came back to the server; the call never stopped.
        call.peerUnconfirmed = false;
        showConnectionState();
      } else if (peer) {
        if (call.peerId) endCallWithPeer();
        setPeer(peer);
        setState('Connecting to ' + peerLabel() + '…');
        await makeOffer();
      } else if (back && call.peerId) {
        // The other party is not back yet; the call goes on meanwhile.
        call.peerUnconfirmed = true;
        showConnectionState();
      } else if (call.stranger) {
        setState('Waiting for a stranger to talk to…');
      } else {
        setState('Waiting for the other party in room ' + msg.room + '…');
      }
      break;
    }
    case 'peer-joined':
      if (msg.peer.id === call.peerId) {
        call.peerUnconfirmed = false;
        showConnectionState();
        break;
      }
      if (call.peerId) endCallWithPeer();
      setPeer(msg.peer);
      setState('Connecting to ' + peerLabel() + '…');
      addMessage('system', null, peerLabel() + ' joined.');
      waitForOffer();
      break;
    case 'peer-left':
      addMessage('system', null, peerLabel() + ' left.');
      endCallWithPeer();
      setState(call.stranger ? 'The stranger left. Press Next to meet someone else.'
        : 'The other party left. Waiting for someone to join…');
      break;
    case 'signal':
      await onSignal(msg.data);
      break;
    case 'error':
      // A node that cannot take joins now (docs/protocol.md): leave it as
      // if it had gone away, for the next node (or the same one, later).
      if (!call.joined && msg.code === 'unavailable') {
        const ws = call.ws;
        call.ws = null;
        ws.close();
        serverLost();
      } else if (!call.joined && ['room-full', 'unauthorized', 'bad-request', 'rate-limited'].includes(msg.code)) {
        refused(msg);
      } else {
        showError('The room server said: ' + msg.message + ' (' + msg.code + ')');
      }
      break;
  }
}

function setPeer(peer) {
  call.peerId = peer.id;
  call.peerName = peer.name || null;
  call.peerUnconfirmed = false;
  $('remote-name').textContent = peerLabel();
}

function endCallWithPeer() {
  closePeer();
  call.peerId = null;
  call.peerName = null;
  call.peerUnconfirmed = false;
  $('remote-name').textContent = '';
  showRemoteMedia({ audio: true, video: true });
}

// The newcomer offers; but a party coming back to the server may believe
// its old call is still up and not offer: then we do.
function waitForOffer() {
  clearTimeout(call.offerWait);
  call.offerWait = setTimeout(() => {
    call.offerWait = null;
    if (call.peerId && !call.pc) makeOffer().catch(fail);
  }, OFFER_WAIT_MS);
}

/* ---------------------------------------------------------------------- */
/* The peer connection                                                     */

function showConnectionState() {
  const pc = call.pc;
  const s = pc ? pc.connectionState : 'new';
  if (!call.ws || !call.joined) return;  // serverLost() says it
  if (s === 'connected') {
    setState('Connected with ' + peerLabel() + '.');
    // What went wrong before is over, but not a missing camera.
    showError(call.mediaProblem);
  } else if (s === 'failed') {
    setState('The call failed.');
    showError('No network path to the other party was found (ICE failed). A TURN server may be needed.');
  } else if (s === 'disconnected') {
    setState('Connection interrupted, trying to recover…');
  }
}

function newPeer() {
  closePeer();
  const pc = new RTCPeerConnection({ iceServers: call.iceServers, bundlePolicy: 'max-bundle' });
  call.pc = pc;
  call.remoteSet = false;
  call.offerMade = false;
  call.pending = [];
  const remote = new MediaStream();
  $('remote').srcObject = remote;
  let playing = false;
  pc.ontrack = (e) => {
    remote.addTrack(e.track);
    // One play() for the stream: the tracks that follow join it.
    if (!playing) playRemote();
    playing = true;
  };
  pc.onicecandidate = (e) => {
    if (pc !== call.pc) return;
    // A null candidate ends gathering; the empty one is left out on purpose.
    if (!e.candidate) send({ type: 'signal', data: { ice: null } });
    else if (e.candidate.candidate) send({ type: 'signal', data: { ice: e.candidate.toJSON() } });
  };
  pc.onconnectionstatechange = () => {
    if (pc !== call.pc) return;
    if (pc.connectionState === 'failed' && call.peerUnconfirmed) {
      // It never came back to the room server: it is gone.
      addMessage('system', null, peerLabel() + ' left.');
      endCallWithPeer();
      setState('The other party left. Waiting for someone to join…');
      return;
    }
    showConnectionState();
  };
  pc.ondatachannel = (e) => {
    if (e.channel.label === CHAT_LABEL) useChannel(e.channel);
    else if (e.channel.label === STATE_LABEL) listenToState(e.channel);
  };
  for (const track of call.stream ? call.stream.getTracks() : []) pc.addTrack(track, call.stream);
  watchQuality(pc);
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
  clearTimeout(call.offerWait);
  const pc = newPeer();
  const kinds = new Set(pc.getSenders().map((s) => s.track && s.track.kind));
  for (const kind of ['video', 'audio'])
    if (!kinds.has(kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
  useChannel(pc.createDataChannel(CHAT_LABEL));
  openStateChannel(pc);
  preferCodec(pc);
  await pc.setLocalDescription(await pc.createOffer());
  if (pc !== call.pc) return;
  call.offerMade = true;
  send({ type: 'signal', data: { sdp: { type: 'offer', sdp: pc.localDescription.sdp } } });
}

async function onSignal(data) {
  if (data.sdp) {
    let pc = call.pc;
    if (data.sdp.type === 'offer') {
      clearTimeout(call.offerWait);
      // Both offered at once: the party with the greater id keeps its offer
      // and the other answers (as the elements settle it).
      if (pc && call.offerMade && !call.remoteSet && call.myId > call.peerId) return;
      pc = newPeer();
      await pc.setRemoteDescription(data.sdp);
      preferCodec(pc);
      await flushCandidates();
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: 'signal', data: { sdp: { type: 'answer', sdp: pc.localDescription.sdp } } });
      // The offer brought an SCTP association (the chat): our media state
      // channel rides on it, no new negotiation needed.
      if (/^m=application/m.test(data.sdp.sdp)) openStateChannel(pc);
      await sendPreferredCodec(pc);
    } else if (pc && call.offerMade && !call.remoteSet) {
      await pc.setRemoteDescription(data.sdp);
      await flushCandidates();
      await sendPreferredCodec(pc);
    }
  } else if (data.ice && data.ice.candidate) {
    // Candidates can outrun the description they belong to: hold them.
    call.pending.push(data.ice);
    if (call.remoteSet) await flushCandidates();
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

function closePeer() {
  clearTimeout(call.offerWait);
  if (call.dc) call.dc.close();
  if (call.stateDc) call.stateDc.close();
  if (call.pc) call.pc.close();
  call.pc = null;
  call.dc = null;
  call.stateDc = null;
  call.pending = [];
  call.remoteSet = false;
  call.offerMade = false;
  $('chat-text').disabled = true;
  $('chat-send').disabled = true;
  $('play').hidden = true;
  showQuality(null);
}

/* ---------------------------------------------------------------------- */
/* Text chat                                                               */

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
    addMessage('them', peerLabel(), e.data);
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
  addMessage('me', 'You', text);
  return true;
}

/* ---------------------------------------------------------------------- */
/* Media state: muted, camera off (docs/protocol.md, "Media state")         */

function openStateChannel(pc) {
  const dc = pc.createDataChannel(STATE_LABEL);
  call.stateDc = dc;
  dc.onopen = () => sendMediaState();
}

function sendMediaState() {
  const dc = call.stateDc;
  if (dc && dc.readyState === 'open')
    dc.send(JSON.stringify({ type: 'media', audio: !call.muted && hasTrack('audio'),
      video: !call.videoOff && hasTrack('video') }));
}

function hasTrack(kind) {
  return !!(call.stream && call.stream.getTracks().some((t) => t.kind === kind));
}

function listenToState(dc) {
  dc.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    // Unknown messages are for later versions: ignored.
    if (msg && msg.type === 'media') showRemoteMedia(msg);
  };
}

function showRemoteMedia(state) {
  call.remoteMedia = { audio: state.audio !== false, video: state.video !== false };
  const badges = $('remote-badges');
  badges.textContent = '';
  for (const [on, text] of [[call.remoteMedia.audio, 'muted'], [call.remoteMedia.video, 'camera off']]) {
    if (on) continue;
    const s = document.createElement('span');
    s.textContent = text;
    badges.append(s);
  }
}

/* ---------------------------------------------------------------------- */
/* Playing the other party                                                 */

// A page that captures nothing (plain http, devices refused) may not start
// sound by itself: the browser refuses play() until the user clicks.
function playRemote() {
  const v = $('remote');
  v.play().then(() => { $('play').hidden = true; }).catch((err) => {
    console.info('the other party\'s video does not play: ' + err.name);
    if (err.name !== 'NotAllowedError') return;
    $('play').hidden = false;
    window.letschat.playBlocked = true;
  });
}

function countFrames() {
  const v = $('remote');
  if (!v.requestVideoFrameCallback) return;
  const tick = () => { window.letschat.remoteFrames++; v.requestVideoFrameCallback(tick); };
  v.requestVideoFrameCallback(tick);
}

function followAspect(video, variable) {
  video.addEventListener('resize', () => {
    if (video.videoWidth && video.videoHeight)
      $('call').style.setProperty(variable, video.videoWidth + ' / ' + video.videoHeight);
  });
}

/* ---------------------------------------------------------------------- */
/* Connection quality, from getStats every 2 s                             */

function watchQuality(pc) {
  let last = null;
  const timer = setInterval(async () => {
    if (pc !== call.pc) { clearInterval(timer); return; }
    if (pc.connectionState !== 'connected') return;
    const now = await sampleStats(pc);
    if (last) showQuality(judgeQuality(last, now));
    last = now;
  }, 2000);
}

async function sampleStats(pc) {
  const s = { t: performance.now(), received: 0, lost: 0, bytes: 0, rtt: null, sentLoss: null };
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp') {
      s.received += r.packetsReceived || 0;
      s.lost += Math.max(0, r.packetsLost || 0);
      s.bytes += r.bytesReceived || 0;
    } else if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' &&
      r.currentRoundTripTime !== undefined) {
      s.rtt = r.currentRoundTripTime;
    } else if (r.type === 'remote-inbound-rtp' && r.fractionLost !== undefined) {
      s.sentLoss = Math.max(s.sentLoss || 0, r.fractionLost);
    }
  });
  return s;
}

// good / poor / bad, and why: loss either way, round trip, what arrives.
function judgeQuality(a, b) {
  const received = b.received - a.received, lost = b.lost - a.lost;
  const loss = received + lost > 0 ? lost / (received + lost) : 0;
  const sentLoss = b.sentLoss || 0;
  const kbps = Math.round((b.bytes - a.bytes) * 8 / (b.t - a.t));
  const rttMs = b.rtt === null ? null : Math.round(b.rtt * 1000);
  const worstLoss = Math.max(loss, sentLoss);
  const q = { lossPct: Math.round(loss * 1000) / 10, sentLossPct: Math.round(sentLoss * 1000) / 10,
    rttMs, kbps, level: 'good', why: [] };
  const expecting = call.remoteMedia.audio || call.remoteMedia.video;
  if (received === 0 && a.received > 0 && expecting) { q.level = 'bad'; q.why.push('nothing arrives'); }
  if (worstLoss >= 0.10) { q.level = 'bad'; q.why.push(Math.round(worstLoss * 100) + '% packets lost'); }
  else if (worstLoss >= 0.02) { q.level = q.level === 'bad' ? 'bad' : 'poor'; q.why.push(Math.round(worstLoss * 100) + '% packets lost'); }
  if (rttMs !== null && rttMs >= 800) { q.level = 'bad'; q.why.push(rttMs + ' ms round trip'); }
  else if (rttMs !== null && rttMs >= 300) { q.level = q.level === 'bad' ? 'bad' : 'poor'; q.why.push(rttMs + ' ms round trip'); }
  return q;
}

function showQuality(q) {
  window.letschat.quality = q;
  const el = $('quality');
  el.hidden = !q;
  if (!q) return;
  el.className = q.level;
  const figures = (q.rttMs !== null ? q.rttMs + ' ms round trip, ' : '') + q.lossPct + '% loss, ' +
    q.kbps + ' kb/s in';
  el.textContent = 'Connection ' + q.level + (q.why.length ? ': ' + q.why.join(', ') : '');
  el.title = figures;
}

/* ---------------------------------------------------------------------- */

function leaveCall() {
  call.leaving = true;
  clearTimeout(call.reconnectTimer);
  send({ type: 'leave' });
  endCallWithPeer();
  if (call.ws) call.ws.close(1000);
  call.ws = null;
  call.joined = call.inRoom = false;
  if (call.stream) call.stream.getTracks().forEach((t) => t.stop());
  call.stream = null;
  $('local').srcObject = null;
  $('remote').srcObject = null;
  $('call').hidden = true;
  $('start').hidden = false;
  $('copy-link').hidden = true;
  document.body.classList.remove('in-call');
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
}

function hangup() {
  leaveCall();
  showError('');
  setState('You left the call.');
}

// Strangers: leave this one and queue again, on the same socket.
function nextStranger() {
  if (!call.stranger) return;
  if (call.peerId) addMessage('system', null, 'You left the stranger.');
  send({ type: 'leave' });
  endCallWithPeer();
  call.room = null;
  call.inRoom = false;      // the next welcome is a new room, not a return
  if (call.joined) {
    setState('Looking for a stranger…');
    sendJoin();
  }
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

async function copyLink() {
  const link = roomLink(call.room);
  let copied = false;
  try {
    // Only on https or localhost; elsewhere the old way below.
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(link);
      copied = true;
    }
  } catch { /* below */ }
  if (!copied) {
    const t = document.createElement('textarea');
    t.value = link;
    document.body.append(t);
    t.select();
    try { copied = document.execCommand('copy'); } catch { copied = false; }
    t.remove();
  }
  window.letschat.copiedLink = copied ? link : null;
  const b = $('copy-link');
  b.textContent = copied ? 'Link copied' : 'Copy failed';
  if (!copied) showError('Could not copy the link; send this address instead: ' + link);
  setTimeout(() => { b.textContent = 'Copy link'; }, 2500);
}

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = $('room').value.trim();
  if (!ROOM_NAME.test(room)) {
    showError('A room name is 1 to 64 letters, digits, "_", "." or "-".');
    return;
  }
  start(room).catch(fail);
});
$('stranger').addEventListener('click', () => start(null).catch(fail));
$('next').addEventListener('click', nextStranger);
$('hangup').addEventListener('click', hangup);
$('copy-link').addEventListener('click', () => copyLink().catch(fail));
$('play').addEventListener('click', () => playRemote());
// <video autoplay> also starts by itself once the person has touched the
// page (typed a chat line, say) and the media is there: the button goes.
$('remote').addEventListener('playing', () => { $('play').hidden = true; });
$('fullscreen').addEventListener('click', () => {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else $('stage').requestFullscreen().catch((err) => showError('Fullscreen refused: ' + err.message));
});
document.addEventListener('fullscreenchange', () => {
  $('fullscreen').textContent = document.fullscreenElement ? 'Exit fullscreen' : 'Fullscreen';
});
$('mute').addEventListener('click', (e) => {
  call.muted = !call.muted;
  if (call.stream) call.stream.getAudioTracks().forEach((t) => { t.enabled = !call.muted; });
  e.target.setAttribute('aria-pressed', String(call.muted));
  e.target.textContent = call.muted ? 'Unmute' : 'Mute';
  sendMediaState();
});
$('video').addEventListener('click', (e) => {
  call.videoOff = !call.videoOff;
  if (call.stream) call.stream.getVideoTracks().forEach((t) => { t.enabled = !call.videoOff; });
  e.target.setAttribute('aria-pressed', String(call.videoOff));
  e.target.textContent = call.videoOff ? 'Start video' : 'Stop video';
  sendMediaState();
});
$('camera-switch').addEventListener('change', (e) => switchDevice('video', e.target.value).catch(fail));
$('microphone-switch').addEventListener('change', (e) => switchDevice('audio', e.target.value).catch(fail));
$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (sendChat($('chat-text').value)) $('chat-text').value = '';
});
followAspect($('remote'), '--remote-aspect');
followAspect($('local'), '--local-aspect');
countFrames();

// /r/<room> opens that room at once; any other /r/ address names no room.
if (params.get('name')) $('name').value = params.get('name');
const m = location.pathname.match(/^\/r\/(.*?)\/?$/);
if (m && ROOM_NAME.test(m[1])) {
  $('room').value = m[1];
  start(m[1]).catch(fail);
} else if (m) {
  let name = m[1];
  try { name = decodeURIComponent(name); } catch { /* shown as it is */ }
  setState('No such room address.');
  showError('"' + name + '" is not a valid room name: a room name is 1 to 64 letters, ' +
    'digits, "_", "." or "-". Choose a room below, or ask for the link again.');
  history.replaceState(null, '', '/');
  listDevices().catch(() => {});
} else {
  listDevices().catch(() => {});
}
