// letschat
// Copyright (C) 2026 letschat developers
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The baseline of the room-server benchmark (bench/server.sh): the letschat
// room protocol (/work/shared/PROTOCOL.md) the way a Node.js developer would
// write it with the `ws` package. It does the same work per message as
// ext/signalling/letschat-room-server.c: parse and check the JSON, add
// "from", serialize again, a token bucket per socket, one log line per
// connect/join/leave/disconnect, a ping to each socket every 10 s (spread
// over the interval, as letschat does) and a close after 30 s of silence.
// It is a yardstick, not a product: no TLS, no secrets beyond the first
// party's, no strangers.
//
//   node bench/node-baseline/server.mjs --port 0 [--rate-limit N --rate-burst N]
// prints "listening on ws://127.0.0.1:PORT/ws" once it listens.

import { WebSocketServer } from 'ws';
import { randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
function option(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}
const port = option('--port', 8443);
const rateLimit = option('--rate-limit', 50);
const rateBurst = option('--rate-burst', 200);
const maxMessageSize = option('--max-message-size', 65536);
const pingInterval = option('--ping-interval', 10);
const pingTimeout = option('--ping-timeout', 30);
const ROOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

const rooms = new Map(); // name -> { name, secret, parties: [a, b] }
const log = (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

function send(ws, message) {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

function refuse(ws, code, message) {
  log(`refused id=${ws.id} code=${code}: ${message}`);
  send(ws, { type: 'error', code, message });
}

function other(room, ws) {
  return room.parties[0] === ws ? room.parties[1] : room.parties[0];
}

function leave(ws, reason) {
  const room = ws.room;
  if (!room) return;
  room.parties[room.parties[0] === ws ? 0 : 1] = null;
  ws.room = null;
  log(`leave room=${room.name} id=${ws.id} reason=${reason}`);
  const peer = other(room, null);
  if (peer) send(peer, { type: 'peer-left', peer: { id: ws.id } });
  if (!room.parties[0] && !room.parties[1]) rooms.delete(room.name);
}

function join(ws, msg) {
  if (ws.room) return refuse(ws, 'already-joined', 'You are already in a room: send leave first.');
  if (typeof msg.room !== 'string' || !ROOM_NAME.test(msg.room))
    return refuse(ws, 'bad-request', 'The join needs a valid "room".');
  if (msg.name !== undefined && (typeof msg.name !== 'string' || msg.name.length > 64))
    return refuse(ws, 'bad-request', 'The join\'s "name" must be a string of at most 64 characters.');
  let room = rooms.get(msg.room);
  if (room && room.secret && room.secret !== msg.secret)
    return refuse(ws, 'unauthorized', 'Wrong secret for this room.');
  if (room && room.parties[0] && room.parties[1])
    return refuse(ws, 'room-full', 'This room already has two parties.');
  if (!room) {
    room = { name: msg.room, secret: msg.secret || null, parties: [null, null] };
    rooms.set(room.name, room);
  }
  const peer = other(room, null);
  room.parties[room.parties[0] ? 1 : 0] = ws;
  ws.room = room;
  ws.name = msg.name ?? null;
  send(ws, {
    type: 'welcome', id: ws.id, room: room.name,
    peers: peer ? [{ id: peer.id, name: peer.name }] : [], ice_servers: [],
  });
  if (peer) send(peer, { type: 'peer-joined', peer: { id: ws.id, name: ws.name } });
  log(`join room=${room.name} id=${ws.id} parties=${peer ? 2 : 1}`);
}

function signalIsValid(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return false;
  if ('sdp' in data) {
    const sdp = data.sdp;
    return sdp && (sdp.type === 'offer' || sdp.type === 'answer') && typeof sdp.sdp === 'string';
  }
  if ('ice' in data) {
    const ice = data.ice;
    if (ice === null) return true;
    return typeof ice === 'object' && typeof ice.candidate === 'string'
      && Number.isInteger(ice.sdpMLineIndex) && ice.sdpMLineIndex >= 0
      && (ice.sdpMid === undefined || ice.sdpMid === null || typeof ice.sdpMid === 'string');
  }
  return false;
}

function takeToken(ws) {
  const now = performance.now();
  ws.tokens = Math.min(rateBurst, ws.tokens + (now - ws.refilled) * rateLimit / 1000);
  ws.refilled = now;
  if (ws.tokens < 1) return false;
  ws.tokens -= 1;
  return true;
}

function receive(ws, raw, isBinary) {
  ws.heard = performance.now();
  if (!takeToken(ws)) {
    if (!ws.toldRateLimited) refuse(ws, 'rate-limited', 'Too many messages.');
    ws.toldRateLimited = true;
    return;
  }
  ws.toldRateLimited = false;
  if (raw.length > maxMessageSize) return refuse(ws, 'too-large', 'The message is too large.');
  if (isBinary) return refuse(ws, 'bad-request', 'Binary frames are not part of the protocol.');
  let msg;
  try {
    msg = JSON.parse(raw.toString('utf8'));
  } catch {
    return refuse(ws, 'bad-request', 'The message is not JSON.');
  }
  if (!msg || typeof msg !== 'object') return refuse(ws, 'bad-request', 'Not a JSON object.');
  switch (msg.type) {
    case 'join':
      return join(ws, msg);
    case 'signal': {
      if (!ws.room) return refuse(ws, 'not-joined', 'Join a room before sending signals.');
      if (!signalIsValid(msg.data)) return refuse(ws, 'bad-request', 'The signal\'s "data" is not valid.');
      const peer = other(ws.room, ws);
      if (peer) send(peer, { type: 'signal', from: ws.id, data: msg.data });
      return;
    }
    case 'leave':
      if (!ws.room) return refuse(ws, 'not-joined', 'You are not in a room.');
      return leave(ws, 'leave');
    default:
      return refuse(ws, 'bad-request', 'Unknown "type".');
  }
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/ws', maxPayload: 4 * maxMessageSize });
wss.on('connection', (ws, req) => {
  ws.id = randomBytes(16).toString('hex');
  ws.room = null;
  ws.tokens = rateBurst;
  ws.refilled = performance.now();
  ws.heard = ws.refilled;
  ws.pingSlot = Math.floor(Math.random() * pingInterval);
  ws.on('pong', () => { ws.heard = performance.now(); });
  log(`connect id=${ws.id} addr=${req.socket.remoteAddress}:${req.socket.remotePort}`);
  ws.on('message', (raw, isBinary) => receive(ws, raw, isBinary));
  ws.on('close', (code) => {
    leave(ws, 'closed');
    log(`disconnect id=${ws.id} code=${code}`);
  });
  ws.on('error', () => {});
});
let ticks = 0;
setInterval(() => {
  const slot = ticks++ % pingInterval;
  const limit = performance.now() - pingTimeout * 1000;
  for (const ws of wss.clients) {
    if (ws.heard < limit) {
      leave(ws, 'timeout');
      ws.terminate();
    } else if (ws.pingSlot === slot) {
      ws.ping();
    }
  }
}, 1000);
wss.on('listening', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}/ws\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
