#!/usr/bin/python3
# An aiortc party of a letschat room, for tests/interop/run.mjs: a WebRTC
# stack we do not control, written only from docs/protocol.md, as a
# third-party developer would write it, with aiortc's defaults (its own
# BUNDLE behaviour, its ICE credentials per m-line, its non-trickle
# gathering). It does not work around letschat's bugs: finding them is the
# point. aiortc 1.4 cannot trickle: its candidates are all in its
# description, followed at once by {"ice": null}; the other party's
# candidates are taken whenever they come (held until its description).
#
#   aiortc-party.py --url ws://127.0.0.1:PORT/ws --room ROOM --codec vp8|h264
#                   --send 0|1 --recv 0|1 [--name NAME] [--noise AMPLITUDE]
#
# Runs on Debian's /usr/bin/python3 with python3-aiortc (1.4) and
# python3-websockets. The contract (shared with werift-party.mjs and
# chromium-party.mjs), one event a line on stdout:
#   joined <id> | peer <peer-id> | offering | answering | connection <state>
#   recv-frames <N> (every 0.5 s while N grows) | recv-codec <mime>
#   error <text> | hungup
#   send-target <bit/s> (every second while sending video: what aiortc's
#   encoder is told, which REMB from the receiver moves)
# stdin: "hangup" or EOF closes the peer connection (DTLS close_notify, SCTP
# ABORT) and the WebSocket, prints "hungup" and exits 0. SIGTERM keeps its
# default action: the process vanishes without closing anything (and so
# does SIGINT).
# Diagnostics (the SDPs, candidates) go to stderr.
import argparse
import asyncio
import fractions
import json
import math
import os
import signal
import sys
import time

import numpy
import websockets
from av import AudioFrame, VideoFrame

import aiortc.rtcrtpreceiver
from aiortc import (RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender,
                    RTCSessionDescription)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from aiortc.sdp import SessionDescription, candidate_from_sdp

CODEC_MIME = {'vp8': 'video/VP8', 'h264': 'video/H264'}


def emit(*words):
    print(' '.join(str(w) for w in words), flush=True)


def debug(*words):
    print(time.strftime('%H:%M:%S'), *words, file=sys.stderr, flush=True)


# aiortc tells nobody which codec it decodes: its receivers pick a decoder per
# payload type in a worker thread through this module-level function, so
# wrapping it learns what was really decoded (not just what was negotiated).
decoded_mime = None
_get_decoder = aiortc.rtcrtpreceiver.get_decoder


def _recording_get_decoder(codec):
    global decoded_mime
    if codec.mimeType.lower().startswith('video/'):
        decoded_mime = codec.mimeType
    return _get_decoder(codec)


aiortc.rtcrtpreceiver.get_decoder = _recording_get_decoder


class Ball(VideoStreamTrack):
    """320x240 at 30 fps: a white square bouncing over a colour ramp, so that
    every frame differs (an encoder sends real deltas, not a still). With
    noise > 0, fresh random noise of that amplitude on every pixel: what
    aiortc's VP8 encoder then sends follows the bitrate it is told (the
    plain ball takes about 250 kbit/s whatever it is told)."""

    def __init__(self, noise=0):
        super().__init__()
        self.n = 0
        self.noise = noise
        ramp = numpy.linspace(0, 255, 320, dtype=numpy.uint8)
        self.background = numpy.zeros((240, 320, 3), numpy.uint8)
        self.background[:, :, 0] = ramp
        self.background[:, :, 2] = ramp[::-1]

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        img = self.background.copy()
        x = int(140 + 120 * math.sin(self.n / 15))
        y = int(100 + 80 * math.cos(self.n / 11))
        img[y:y + 40, x:x + 40] = 255
        if self.noise:
            img = numpy.clip(img.astype(numpy.int16) + numpy.random.randint(
                -self.noise, self.noise + 1, img.shape, dtype=numpy.int16),
                0, 255).astype(numpy.uint8)
        self.n += 1
        frame = VideoFrame.from_ndarray(img, format='rgb24')
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(MediaStreamTrack):
    """A 440 Hz tone, 48 kHz mono, in 20 ms frames paced to the clock."""
    kind = 'audio'
    RATE = 48000
    SAMPLES = 960

    def __init__(self):
        super().__init__()
        self.start = None
        self.sent = 0

    async def recv(self):
        if self.readyState != 'live':
            raise MediaStreamError
        if self.start is None:
            self.start = time.time()
        else:
            await asyncio.sleep(self.start + self.sent / self.RATE - time.time())
        t = (numpy.arange(self.SAMPLES) + self.sent) / self.RATE
        pcm = (numpy.sin(2 * math.pi * 440 * t) * 8000).astype(numpy.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format='s16', layout='mono')
        frame.sample_rate = self.RATE
        frame.pts = self.sent
        frame.time_base = fractions.Fraction(1, self.RATE)
        self.sent += self.SAMPLES
        return frame


class Party:
    def __init__(self, args):
        self.args = args
        self.ws = None
        self.pc = None
        self.ice_servers = []
        self.pending_ice = []  # remote candidates that came before the remote description
        self.frames = 0
        self.tasks = set()

    def spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def send(self, message):
        await self.ws.send(json.dumps(message))

    async def signal(self, data):
        await self.send({'type': 'signal', 'data': data})

    async def report_send_target(self, pc, sender):
        """The bitrate aiortc's video encoder is told (REMB is what moves it),
        once a second: aiortc keeps the encoder private, made at the first
        frame."""
        while pc.connectionState != 'closed':
            await asyncio.sleep(1)
            encoder = getattr(sender, '_RTCRtpSender__encoder', None)
            if encoder is not None and hasattr(encoder, 'target_bitrate'):
                emit('send-target', encoder.target_bitrate)

    def make_pc(self):
        """The peer connection with its transceivers made up front: aiortc's
        answerer applies codec preferences only to transceivers that exist
        when the offer is set (it adopts them by kind)."""
        # An empty list, not None: aiortc's default is Google's STUN server,
        # and the protocol says the server's list is the configuration.
        servers = [RTCIceServer(urls=s['urls'], username=s.get('username'),
                                credential=s.get('credential')) for s in self.ice_servers]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        a = self.args
        direction = {(1, 1): 'sendrecv', (1, 0): 'sendonly', (0, 1): 'recvonly'}[(a.send, a.recv)]
        video = pc.addTransceiver(Ball(a.noise) if a.send else 'video', direction=direction)
        if a.send:
            self.spawn(self.report_send_target(pc, video.sender))
        # The codec under test only (plus its retransmission format), so that
        # it is what both directions use whoever offers.
        mime = CODEC_MIME[a.codec].lower()
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities('video').codecs
                                   if c.mimeType.lower() in (mime, 'video/rtx')])
        pc.addTransceiver(Tone() if a.send else 'audio', direction=direction)

        @pc.on('connectionstatechange')
        def on_state():
            emit('connection', pc.connectionState)

        @pc.on('track')
        def on_track(track):
            debug('remote track', track.kind)
            self.spawn(self.consume(track))

        @pc.on('datachannel')
        def on_datachannel(channel):
            debug('data channel', channel.label)
        return pc

    async def consume(self, track):
        """Pulls every decoded frame (aiortc decodes in any case; an unread
        track only queues them), counting video."""
        try:
            while True:
                await track.recv()
                if track.kind == 'video':
                    self.frames += 1
        except MediaStreamError:
            debug('remote', track.kind, 'track ended')

    async def report(self):
        last, told_codec = 0, False
        while True:
            await asyncio.sleep(0.5)
            if decoded_mime and not told_codec:
                emit('recv-codec', decoded_mime)
                told_codec = True
            if self.frames > last:
                last = self.frames
                emit('recv-frames', last)

    async def offer(self):
        emit('offering')
        self.pc = self.make_pc()
        # docs/protocol.md: the offerer opens the "chat" channel before its offer.
        self.pc.createDataChannel('chat')
        # aiortc gathers every candidate in setLocalDescription (no trickle):
        # they are in the description, and the end of them follows at once.
        await self.pc.setLocalDescription(await self.pc.createOffer())
        debug('local offer:\n' + self.pc.localDescription.sdp)
        await self.signal({'sdp': {'type': 'offer', 'sdp': self.pc.localDescription.sdp}})
        await self.signal({'ice': None})

    async def on_sdp(self, sdp):
        debug('remote %s:\n%s' % (sdp['type'], sdp['sdp']))
        if sdp['type'] == 'offer':
            emit('answering')
            if self.pc is None:
                self.pc = self.make_pc()
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp['sdp'], type='offer'))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            debug('local answer:\n' + self.pc.localDescription.sdp)
            await self.signal({'sdp': {'type': 'answer', 'sdp': self.pc.localDescription.sdp}})
            await self.signal({'ice': None})
        else:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp['sdp'], type='answer'))
        pending, self.pending_ice = self.pending_ice, []
        for ice in pending:
            await self.add_ice(ice)

    async def add_ice(self, ice):
        if self.pc is None or self.pc.remoteDescription is None:
            self.pending_ice.append(ice)
            return
        if ice is None or not ice.get('candidate'):
            # End of candidates. aiortc's addIceCandidate() takes no None, but
            # each ICE transport (public: sender.transport.transport) does.
            transports = {id(t.sender.transport.transport): t.sender.transport.transport
                          for t in self.pc.getTransceivers()}
            if self.pc.sctp:
                transports[id(self.pc.sctp.transport.transport)] = self.pc.sctp.transport.transport
            for transport in transports.values():
                await transport.addRemoteCandidate(None)
            return
        debug('remote candidate', ice)
        candidate = candidate_from_sdp(ice['candidate'].split(':', 1)[1])
        candidate.sdpMLineIndex = ice.get('sdpMLineIndex')
        candidate.sdpMid = ice.get('sdpMid')
        if candidate.sdpMid is None and candidate.sdpMLineIndex is not None:
            # sdpMid may be null (docs/protocol.md); aiortc matches on it only.
            media = SessionDescription.parse(self.pc.remoteDescription.sdp).media
            if candidate.sdpMLineIndex < len(media):
                candidate.sdpMid = media[candidate.sdpMLineIndex].rtp.muxId
        await self.pc.addIceCandidate(candidate)

    async def on_message(self, msg):
        kind = msg.get('type')
        if kind == 'welcome':
            emit('joined', msg['id'])
            self.ice_servers = msg.get('ice_servers') or []
            if msg.get('peers'):
                emit('peer', msg['peers'][0]['id'])
                await self.offer()
        elif kind == 'peer-joined':
            emit('peer', msg['peer']['id'])
        elif kind == 'peer-left':
            debug('peer left', msg['peer']['id'])
        elif kind == 'signal':
            data = msg['data']
            if 'sdp' in data:
                await self.on_sdp(data['sdp'])
            elif 'ice' in data:
                await self.add_ice(data['ice'])
        elif kind == 'error':
            emit('error', 'server: %s: %s' % (msg.get('code'), msg.get('message')))

    async def signalling(self):
        join = {'type': 'join', 'room': self.args.room, 'version': 1}
        if self.args.name:
            join['name'] = self.args.name
        await self.send(join)
        async for text in self.ws:
            try:
                await self.on_message(json.loads(text))
            except Exception as e:  # a refused description is an event, not a crash
                emit('error', '%s: %s' % (type(e).__name__, e))
        emit('error', 'the server closed the WebSocket')

    async def hangup(self):
        if self.pc:
            await self.pc.close()
        if self.ws:
            await self.ws.close()
        emit('hungup')

    async def run(self):
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        async with websockets.connect(self.args.url) as ws:
            self.ws = ws
            self.spawn(self.report())
            work = self.spawn(self.signalling())
            while True:
                reading = asyncio.ensure_future(stdin.readline())
                done, _ = await asyncio.wait({reading, work}, return_when=asyncio.FIRST_COMPLETED)
                if reading not in done:
                    reading.cancel()
                    break  # the WebSocket ended: an error was printed
                line = reading.result()
                if not line or line.strip() == b'hangup':
                    work.cancel()
                    await self.hangup()
                    return 0
        return 1


def main():
    p = argparse.ArgumentParser(description='An aiortc party of a letschat room')
    p.add_argument('--url', required=True)
    p.add_argument('--room', required=True)
    p.add_argument('--codec', choices=sorted(CODEC_MIME), default='vp8')
    p.add_argument('--send', type=int, choices=(0, 1), default=1)
    p.add_argument('--recv', type=int, choices=(0, 1), default=1)
    p.add_argument('--name', default='aiortc')
    p.add_argument('--noise', type=int, default=0,
                   help='random noise of this amplitude on the video (0-255)')
    args = p.parse_args()
    # SIGINT (a test harness's cleanup): gone at once too. Letting asyncio
    # unwind would wait for aiortc's encoder and decoder threads.
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    if not (args.send or args.recv):
        p.error('--send 0 --recv 0 makes no call')
    try:
        sys.exit(asyncio.run(Party(args).run()))
    except Exception as e:
        emit('error', '%s: %s' % (type(e).__name__, e))
        sys.exit(1)


if __name__ == '__main__':
    main()
