# letschat
# Copyright (C) 2026 letschat developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What tests/server/test-hardening-transport.py, tests/server/test-cluster.py
and scripts/attack share: a real letschat-server process, its RSS, descriptors and threads read from
/proc, raw attackers on plain sockets, and honest parties speaking the room
protocol over a small blocking WebSocket client (so that an attacker or a
party can pick its source address: 127.0.0.2 is another client than
127.0.0.1 on loopback), and the TAP runner of the two tests."""

import base64
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'certs')
RUNNING = []                    # servers to kill if a test fails


def kill_leftovers():
    while RUNNING:
        server = RUNNING.pop()
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


class Server:
    """letschat-server on a free port; its stdout is the log."""

    def __init__(self, *args, tls=False, nofile=None):
        self.tls = tls
        argv = [os.environ['LETSCHAT_SERVER'], '--port=0']
        if tls:
            argv += ['--tls-cert', os.path.join(CERTS, 'localhost.pem'),
                     '--tls-key', os.path.join(CERTS, 'localhost.key')]
        argv += list(args)
        if nofile:
            argv = ['prlimit', '--nofile=%d:%d' % (nofile, nofile)] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.lines = []
        self.lock = threading.Lock()
        first = self.proc.stdout.readline()
        assert first.startswith('letschat-server listening on'), first
        self.port = int(first.rsplit(':', 1)[1].split('/')[0])
        self.pid = self.proc.pid
        RUNNING.append(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip('\n'))

    def log(self):
        with self.lock:
            return list(self.lines)

    def log_bytes(self):
        return sum(len(l) + 1 for l in self.log())

    def wait_log(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in l for l in self.log()):
                return [l for l in self.log() if text in l]
            time.sleep(0.05)
        raise AssertionError('no log line with %r in:\n%s'
                             % (text, '\n'.join(self.log()[-30:])))

    def status(self, field):
        with open('/proc/%d/status' % self.pid) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
        raise KeyError(field)

    def rss_kb(self):
        return self.status('VmRSS')

    def threads(self):
        return self.status('Threads')

    def fds(self):
        return len(os.listdir('/proc/%d/fd' % self.pid))

    def figures(self):
        return {'rss_kb': self.rss_kb(), 'fds': self.fds(),
                'threads': self.threads(), 'log_bytes': self.log_bytes()}

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=10)
        assert rc == 0, 'letschat-server exited with %d' % rc


def connect(server, source='127.0.0.1', tls=None, timeout=10):
    """A TCP (or TLS) connection to @server from @source."""
    s = socket.create_connection(('127.0.0.1', server.port), timeout=timeout,
                                 source_address=(source, 0))
    if tls if tls is not None else server.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s, server_hostname='localhost')
    return s


def closed_by_peer(s, timeout):
    """True when the server closes @s (EOF or reset) within @timeout."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except (socket.timeout, TimeoutError):
        return False


def read_to_end(s, timeout=10):
    """What @s receives until the server closes it (or resets it)."""
    data = b''
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data


def http_get(server, path='/', source='127.0.0.1', headers=None):
    """(status, headers dict, body) of one request, read to the end."""
    s = connect(server, source)
    req = 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' % path
    for k, v in (headers or {}).items():
        req += '%s: %s\r\n' % (k, v)
    s.sendall((req + '\r\n').encode())
    data = read_to_end(s)
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


class WebSocket:
    """A blocking WebSocket client: enough of RFC 6455 for the room
    protocol (text frames, pings answered, close)."""

    def __init__(self, server, source='127.0.0.1', origin=None, host=None):
        self.s = connect(server, source)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ('GET /ws HTTP/1.1\r\nHost: %s\r\n'
               'Upgrade: websocket\r\nConnection: Upgrade\r\n'
               'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n'
               % (host or '127.0.0.1:%d' % server.port, key))
        if origin:
            req += 'Origin: %s\r\n' % origin
        self.s.sendall((req + '\r\n').encode())
        self.buf = b''
        while b'\r\n\r\n' not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise ConnectionError('closed during the handshake')
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b'\r\n\r\n')
        self.status = int(head.split()[1])
        if self.status != 101:
            raise ConnectionError('handshake answered %d' % self.status)

    def send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack('!BB', 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack('!BBH', 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack('!BBQ', 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.s.sendall(head + mask + masked)

    def send(self, obj):
        self.send_frame(1, json.dumps(obj).encode())

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError('closed')
            self.buf += chunk

    def recv(self, timeout=10):
        """The next text message as an object (pings answered)."""
        self.s.settimeout(timeout)
        while True:
            self._need(2)
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7f, 2
            if n == 126:
                self._need(4)
                n, off = struct.unpack('!H', self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10)
                n, off = struct.unpack('!Q', self.buf[2:10])[0], 10
            self._need(off + n)
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            opcode = b0 & 0x0f
            if opcode == 9:
                self.send_frame(10, payload)
            elif opcode == 8:
                raise ConnectionError('closed by the server')
            elif opcode == 1:
                return json.loads(payload)

    def expect(self, type_, timeout=10):
        while True:
            msg = self.recv(timeout)
            if msg.get('type') == type_:
                return msg

    def close(self):
        try:
            self.send_frame(8, struct.pack('!H', 1000))
        except OSError:
            pass
        self.s.close()


def handshake_status(server, origin, host=None):
    """The status a WebSocket handshake with @origin and @host gets."""
    try:
        ws = WebSocket(server, origin=origin, host=host)
    except ConnectionError as e:
        return int(str(e).split()[-1])
    ws.close()
    return 101


def honest_pair(server, room):
    """Two parties in @room, A and B, both welcomed."""
    a = WebSocket(server)
    a.send({'type': 'join', 'room': room, 'version': 1})
    a.expect('welcome')
    b = WebSocket(server)
    b.send({'type': 'join', 'room': room, 'version': 1})
    b.expect('welcome')
    a.expect('peer-joined')
    return a, b


def send_candidate(ws, i):
    """A signal carrying ICE candidate number @i (its port)."""
    ws.send({'type': 'signal', 'data': {'ice': {
        'candidate': 'candidate:1 1 UDP 1 192.0.2.7 %d typ host' % i,
        'sdpMLineIndex': 0}}})


def relay_ms(a, b, n=1):
    """Sends @n signals from A to B; the time each took, in ms."""
    times = []
    for i in range(n):
        t0 = time.monotonic()
        send_candidate(a, i)
        msg = b.expect('signal')
        assert msg['data']['ice']['candidate'].endswith('%d typ host' % i)
        times.append((time.monotonic() - t0) * 1000)
    return times


def honest_relay_works(server, room='honest'):
    """Two fresh parties join and relay a signal; closes them."""
    a, b = honest_pair(server, room)
    try:
        return relay_ms(a, b)[0]
    finally:
        a.close()
        b.close()


def wait_until(cond, timeout=15, what=''):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError('timed out waiting for ' + what)


def run_tap(tests, after_each=None, skip_all=None):
    """Runs @tests (functions) and says how each went as TAP (meson's
    protocol 'tap'), only those named on the command line if any: a failed
    test prints its traceback as comments, and the next one runs. After
    each, the servers it left are killed, then @after_each() runs.
    @skip_all: why every test is skipped (a missing program), or None.
    Returns the exit status."""
    only = sys.argv[1:]
    print('1..%d' % len(tests))
    if skip_all:
        for i, test in enumerate(tests, 1):
            print('ok %d %s # SKIP %s' % (i, test.__name__, skip_all))
        return 0
    failed = 0
    for i, test in enumerate(tests, 1):
        if only and test.__name__ not in only:
            print('ok %d %s # SKIP' % (i, test.__name__))
            continue
        t0 = time.monotonic()
        try:
            test()
            print('ok %d %s # %.1f s' % (i, test.__name__,
                                         time.monotonic() - t0))
        except Exception:  # noqa: a failed test says why and goes on
            import traceback
            failed += 1
            print('not ok %d %s' % (i, test.__name__))
            for line in traceback.format_exc().splitlines():
                print('# ' + line)
        finally:
            kill_leftovers()
            if after_each:
                after_each()
        sys.stdout.flush()
    return 1 if failed else 0
