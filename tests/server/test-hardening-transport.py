#!/usr/bin/python3
# letschat
# Copyright (C) 2026 letschat developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue #17's attacks on what comes before a WebSocket, scaled down,
against a real letschat-server ($LETSCHAT_SERVER): the attacker speaks from
127.0.0.2, two honest parties from 127.0.0.1 join and relay a signal beside
it; the server's descriptors, threads and RSS stay within a budget during
the attack and come back after it, and its log says what it refused (in
few lines). Full-size versions with figures: scripts/attack."""

import os
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hardening_lib import (Server, WebSocket, closed_by_peer, connect,  # noqa
                           handshake_status, honest_pair, honest_relay_works, http_get,
                           read_to_end, relay_ms, run_tap, wait_until)

ATTACKER = '127.0.0.2'


def test_out_of_descriptors():
    """A tiny descriptor limit used up by idle connections: accepting
    pauses (a few log lines, not one per try), idle connections are closed
    at the handshake timeout, and honest parties then get in."""
    s = Server('--max-per-ip=1000', '--max-connections=1000',
               '--handshake-timeout=2', nofile=48)
    base_fds = s.fds()
    idle = []
    for _ in range(80):
        try:
            idle.append(connect(s, ATTACKER, timeout=2))
        except OSError:
            break
    s.wait_log('out of file descriptors')
    assert s.fds() <= 48
    # the idle ones are closed by the deadline, so honest parties get in
    # although the attacker keeps connecting
    for c in idle:
        closed_by_peer(c, 15)
        c.close()
    wait_until(lambda: s.fds() <= base_fds + 2, what='descriptors back')
    honest_relay_works(s)
    refusals = [l for l in s.log() if 'out of file descriptors' in l]
    # at most one summary line a second (the attack lasted a few seconds)
    assert len(refusals) <= 10, refusals
    print('# out-of-fds lines: %d, log %d bytes' % (len(refusals),
                                                     s.log_bytes()))
    s.stop()


def test_per_ip_cap():
    """One address gets max-per-ip + 8 TCP connections, the rest are closed
    at once; another address still loads the page and relays."""
    s = Server('--max-per-ip=4', '--handshake-timeout=30')
    base_fds = s.fds()
    held = []
    for _ in range(30):
        held.append(connect(s, ATTACKER))
    # the first 12 stay open, the others are closed by the server
    closed = [c for c in held[12:] if closed_by_peer(c, 10)]
    assert len(closed) == 18, len(closed)
    assert not closed_by_peer(held[0], 0.5)
    assert s.fds() <= base_fds + 12 + 2
    status, _, body = http_get(s, '/')
    assert status == 200 and b'<html' in body.lower()
    honest_relay_works(s)
    line = s.wait_log('refused')
    assert '127.0.0.2 has 12 open' in line[0], line
    # summarised: the refusals held back are told a second later, and the
    # lines add up to all 18
    s.wait_log('refused over --max-per-ip')
    counted = [l for l in s.log() if 'max-per-ip' in l]
    total = sum(int(l.split('refused ')[1].split()[0]) if 'refused 'in l
                and 'connection(s)' in l else int(l.split(': ')[-1].split()[0])
                for l in counted)
    assert total == 18 and len(counted) <= 3, counted
    for c in held:
        c.close()
    wait_until(lambda: s.fds() <= base_fds + 1, what='descriptors back')
    s.stop()


def test_websockets_count_from_accept():
    """WebSockets count in the per-address TCP cap until they close."""
    s = Server('--max-per-ip=4', '--handshake-timeout=30')
    sockets = [WebSocket(s, ATTACKER) for _ in range(4)]
    held = [connect(s, ATTACKER) for _ in range(9)]
    assert not closed_by_peer(held[7], 0.5)
    assert closed_by_peer(held[8], 10)
    for ws in sockets:
        ws.close()
    # once they are closed, their places are free again
    wait_until(lambda: not closed_by_peer(connect(s, ATTACKER), 0.2),
               what='a place freed by the closed WebSockets')
    for c in held:
        c.close()
    s.stop()


def test_idle_and_slow_connections_closed():
    """Connections that send nothing, or a request head byte by byte, or
    that stay idle after a response, are closed at --handshake-timeout."""
    s = Server('--handshake-timeout=1')
    silent = [connect(s, ATTACKER) for _ in range(20)]
    slow = connect(s, ATTACKER)
    slow.sendall(b'GET / HTTP/1.1\r\n')
    keep = connect(s, ATTACKER)
    keep.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    a, b = honest_pair(s, 'beside')
    for c in silent + [slow, keep]:
        assert closed_by_peer(c, 15)
    relay_ms(a, b, 5)           # WebSockets have no such deadline
    line = s.wait_log('did not finish their TLS handshake, request or '
                      'response within 1 s')
    assert len([l for l in s.log() if 'did not finish' in l]) <= 5
    a.close()
    b.close()
    s.stop()


def test_half_open_tls_handshakes():
    """TLS connections that stop in the middle of the handshake: closed at
    the timeout, threads and RSS back near the start; honest wss parties
    relay meanwhile."""
    s = Server('--handshake-timeout=2', tls=True)
    honest_relay_works(s)
    before = s.figures()
    half = []
    for _ in range(40):
        c = connect(s, ATTACKER, tls=False)
        # a TLS record header promising a ClientHello that never comes
        c.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]))
        half.append(c)
    # and some that send a whole ClientHello, then stop (from another
    # address: the first one is at its cap of 40)
    for _ in range(10):
        c = connect(s, '127.0.0.3', tls=False)
        c.sendall(client_hello())
        half.append(c)
    during = s.figures()
    honest_relay_works(s)
    for c in half:
        assert closed_by_peer(c, 20)
        c.close()
    s.wait_log('did not finish their TLS handshake')
    # 2 of the 10 whole ClientHellos shake hands, the 8 others wait their
    # turn (not other addresses' turns) until the deadline closes them
    s.wait_log('TLS handshake(s) wait: 127.0.0.3 has 2 running')
    wait_until(lambda: s.threads() <= before['threads'] + 4, 20,
               'threads back')
    after = s.figures()
    print('# TLS half-open: before %s during %s after %s'
          % (before, during, after))
    # no CA store per connection: 40 of them cost little
    assert during['rss_kb'] - before['rss_kb'] < 20 * 1024, (before, during)
    s.stop()


def test_tls_handshakes_at_once_from_one_address():
    """Parties behind one NAT connecting at once (more than the handshakes
    one address may run together) all get through: the ones over the limit
    wait their turn, they are not cut off."""
    s = Server(tls=True)
    results = []

    def handshake():
        try:
            c = connect(s, '127.0.0.5')
            results.append(c.version())
            c.close()
        except (OSError, ssl.SSLError) as e:
            results.append('failed: %s' % e)

    threads = [threading.Thread(target=handshake) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 12 and all(r in ('TLSv1.2', 'TLSv1.3')
                                      for r in results), results
    honest_relay_works(s)
    s.stop()


def client_hello():
    """The bytes of a real ClientHello (Python's OpenSSL)."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname='localhost')
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def test_tls_versions():
    """TLS 1.2 and 1.3 only."""
    s = Server(tls=True)

    def s_client(*args):
        p = subprocess.run(['openssl', 's_client', '-connect',
                            '127.0.0.1:%d' % s.port] + list(args),
                           input=b'', capture_output=True, timeout=20)
        return p.stdout.decode(errors='replace')

    assert 'Cipher is (NONE)' in s_client('-tls1_1', '-cipher',
                                          'DEFAULT:@SECLEVEL=0')
    assert 'Cipher is (NONE)' in s_client('-tls1', '-cipher',
                                          'DEFAULT:@SECLEVEL=0')
    assert 'TLSv1.2, Cipher is ECDHE-' in s_client('-tls1_2')
    assert 'TLSv1.3, Cipher is' in s_client('-tls1_3')
    s.stop()


def raw_request(s, text, timeout=10):
    c = connect(s, ATTACKER)
    c.sendall(text)
    data = read_to_end(c, timeout)
    c.close()
    return data


def test_no_request_bodies():
    """A body is refused (413) before it is read, chunked too; methods
    other than GET and HEAD get 405; the server's memory does not grow."""
    s = Server()
    rss = s.rss_kb()
    c = connect(s, ATTACKER)
    c.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n'
              b'\r\n')
    answer = b''
    c.settimeout(10)
    sent = 0
    try:
        while sent < 50 * 1024 * 1024:
            c.sendall(b'x' * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        answer = c.recv(65536)
    except ConnectionResetError:
        pass
    c.close()
    print('# sent %d bytes of body before the server closed' % sent)
    assert sent < 50 * 1024 * 1024, 'the server read the body'
    assert s.rss_kb() - rss < 8 * 1024
    answer = raw_request(s, b'PUT /r/x HTTP/1.1\r\nHost: x\r\n'
                         b'Transfer-Encoding: chunked\r\n\r\n'
                         b'10\r\n0123456789abcdef\r\n')
    assert answer.startswith(b'HTTP/1.1 413'), answer[:80]
    assert b'takes no request bodies' in answer
    answer = raw_request(s, b'DELETE / HTTP/1.1\r\nHost: x\r\n'
                         b'Connection: close\r\n\r\n')
    assert answer.startswith(b'HTTP/1.1 405'), answer[:80]
    answer = raw_request(s, b'POST /ws HTTP/1.1\r\nHost: x\r\n'
                         b'Connection: close\r\n\r\n')
    assert answer.startswith(b'HTTP/1.1 405'), answer[:80]
    honest_relay_works(s)
    s.stop()


def test_ranges():
    """One range is served (206); several get the whole page (200), never a
    multipart answer bigger than the page."""
    s = Server()
    _, _, page = http_get(s, '/')
    status, hdrs, body = http_get(s, '/', headers={'Range': 'bytes=0-9'})
    assert status == 206 and len(body) == 10
    status, hdrs, body = http_get(s, '/', headers={
        'Range': 'bytes=' + ','.join(['0-'] * 2000)})
    assert status == 200 and body == page, (status, len(body))
    assert 'multipart' not in hdrs.get('content-type', '')
    s.stop()


def test_origins():
    """The page's own origin is what the operator configured, or an IP
    literal the connection really came to: never the Host header (a
    DNS-rebinding page sends a Host matching its Origin)."""
    s = Server()
    p = s.port
    assert handshake_status(s, 'http://127.0.0.1:%d' % p) == 101
    assert handshake_status(s, 'http://localhost:%d' % p) == 101
    assert handshake_status(s, None) == 101
    assert handshake_status(s, 'http://evil.example:%d' % p,
                            host='evil.example:%d' % p) == 403
    assert handshake_status(s, 'http://127.0.0.2:%d' % p,
                            host='127.0.0.2:%d' % p) == 403
    assert handshake_status(s, 'https://127.0.0.1:%d' % p) == 403
    s.stop()
    s = Server('--public-origin', 'https://Chat.Example.org')
    p = s.port
    assert handshake_status(s, 'https://chat.example.org',
                            host='chat.example.org') == 101
    assert handshake_status(s, 'https://chat.example.org:443') == 101
    assert handshake_status(s, 'http://127.0.0.1:%d' % p) == 403
    assert handshake_status(s, 'http://evil.example:%d' % p,
                            host='evil.example:%d' % p) == 403
    s.stop()


def flood_pings(server, n_sockets, seconds, source=ATTACKER):
    """@n_sockets WebSockets sending pings as fast as they can and never
    reading; returns them (open)."""
    flooders = [WebSocket(server, source) for _ in range(n_sockets)]
    ping = b'\x89\xfd' + b'\0\0\0\0' + b'p' * 125  # masked, zero mask
    burst = ping * 64
    deadline = time.monotonic() + seconds
    pending = {}
    closed = set()
    for ws in flooders:
        ws.s.setblocking(False)
        pending[ws] = b''
    while time.monotonic() < deadline:
        for ws in flooders:
            if ws in closed:
                continue
            try:
                # whole frames only: a cut one would be garbage next time
                out = pending[ws] or burst
                pending[ws] = out[ws.s.send(out):]
            except (BlockingIOError, ssl.SSLWantWriteError):
                pass
            except OSError:
                closed.add(ws)      # the server closed it for flooding
    return flooders


def test_ping_flood_closed():
    """A socket that goes on sending pings far over the rate a keep-alive
    needs is closed (1008, policy violation): leaving its pings unanswered
    is not enough, each one still costs the loop a read and an unmasking.
    Honest parties relay meanwhile."""
    s = Server('--ping-interval=3600')
    a, b = honest_pair(s, 'beside')
    flooders = flood_pings(s, 8, 2.0)
    relay_ms(a, b, 5)
    for ws in flooders:
        assert closed_by_peer(ws.s, 10), 'a ping flood left open'
        ws.s.close()
    s.wait_log(': ping flood')
    a.close()
    b.close()
    s.stop()


def test_ping_flood_without_reading():
    """WebSockets that flood pings and never read: pongs are not queued,
    RSS stays within budget and comes back once they close; honest parties
    relay meanwhile."""
    s = Server('--ping-interval=3600')
    honest_relay_works(s)
    before = s.figures()
    flooders = flood_pings(s, 24, 2.0)
    a, b = honest_pair(s, 'beside')
    relay_ms(a, b, 5)
    during = s.figures()
    for ws in flooders:
        ws.s.close()
    wait_until(lambda: s.fds() <= before['fds'] + 2, what='sockets closed')
    time.sleep(1.5)         # the heap is trimmed a second after the burst
    after = s.figures()
    print('# ping flood: before %s during %s after %s'
          % (before, during, after))
    # before: 4 MiB of pongs queued per socket (96 MiB here)
    assert during['rss_kb'] - before['rss_kb'] < 24 * 1024, during
    assert after['rss_kb'] - before['rss_kb'] < 8 * 1024, after
    a.close()
    b.close()
    s.stop()


TESTS = [test_out_of_descriptors, test_per_ip_cap,
         test_websockets_count_from_accept,
         test_idle_and_slow_connections_closed, test_half_open_tls_handshakes,
         test_tls_handshakes_at_once_from_one_address,
         test_tls_versions, test_no_request_bodies, test_ranges,
         test_origins, test_ping_flood_closed, test_ping_flood_without_reading]


if __name__ == '__main__':
    sys.exit(run_tap(TESTS))
