#!/usr/bin/python3
# letschat
# Copyright (C) 2026 letschat developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue #15: rooms across several letschat-server nodes through one Redis
(--redis). A real redis-server on a free port (no persistence) and real
letschat-server processes ($LETSCHAT_SERVER); parties speak the room
protocol over plain WebSockets (hardening_lib). Skipped, saying so, when
redis-server is not installed."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hardening_lib import (Server, WebSocket, http_get, run_tap,  # noqa
                           send_candidate, wait_until)

# The seat-expiry bound of docs/operations.md (LETSCHAT_CLUSTER_NODE_TTL_S)
SEAT_BOUND_S = 10


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """redis-server on a free port, without persistence."""

    def __init__(self, port=None, *args):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no'] + list(args),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, 10, 'redis-server to answer')

    def answers(self):
        try:
            with socket.create_connection(('127.0.0.1', self.port), 1) as s:
                s.sendall(b'PING\r\n')
                return s.recv(16).startswith((b'+PONG', b'-NOAUTH'))
        except OSError:
            return False

    def command(self, *args):
        """One command, its reply's first line (RESP)."""
        req = '*%d\r\n' % len(args) + ''.join(
            '$%d\r\n%s\r\n' % (len(a), a) for a in args)
        with socket.create_connection(('127.0.0.1', self.port), 5) as s:
            s.sendall(req.encode())
            return s.recv(4096).split(b'\r\n')[0].decode()

    def url(self):
        return 'redis://127.0.0.1:%d' % self.port

    def stop(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait()


REDIS = []


def node(redis, name):
    server = Server('--redis', redis.url(), '--node-id', name)
    wait_until(lambda: redis_up(server), 15, name + ' to reach Redis')
    return server


def redis_up(server):
    status, _, body = http_get(server, '/healthz')
    return status == 200 and b'"redis":"up"' in body


def cluster(n=2):
    redis = Redis()
    REDIS.append(redis)
    return redis, [node(redis, 'node%d' % (i + 1)) for i in range(n)]


def join(server, room, source='127.0.0.1', **fields):
    ws = WebSocket(server, source=source)
    msg = {'type': 'join', 'version': 1}
    if room is not None:
        msg['room'] = room
    msg.update(fields)
    ws.send(msg)
    return ws, ws.recv()


def expect_signals(ws, sender_id, n):
    for i in range(n):
        msg = ws.expect('signal')
        assert msg['from'] == sender_id, msg
        assert msg['data']['ice']['candidate'].endswith(' %d typ host' % i), \
            'out of order: %r at %d' % (msg, i)


def test_two_nodes_one_room():
    """A on node 1, B on node 2: peer-joined and signals both ways in order;
    a third party on either node gets room-full; a wrong secret on the
    other node gets unauthorized."""
    _, (n1, n2) = cluster()
    a, wa = join(n1, 'kitchen', name='Alice')
    assert wa['type'] == 'welcome' and wa['peers'] == [], wa
    b, wb = join(n2, 'kitchen', name='Bob')
    assert wb['type'] == 'welcome', wb
    assert wb['peers'] == [{'id': wa['id'], 'name': 'Alice'}], wb
    joined = a.expect('peer-joined')
    assert joined['peer'] == {'id': wb['id'], 'name': 'Bob'}, joined

    for i in range(50):
        send_candidate(b, i)
        send_candidate(a, i)
    expect_signals(a, wb['id'], 50)
    expect_signals(b, wa['id'], 50)

    for server in (n1, n2):
        c, wc = join(server, 'kitchen')
        assert wc['type'] == 'error' and wc['code'] == 'room-full', wc
        c.close()

    s1, w1 = join(n1, 'vault', secret='tea')
    assert w1['type'] == 'welcome', w1
    for secret in ('coffee', None):
        fields = {'secret': secret} if secret else {}
        s2, w2 = join(n2, 'vault', **fields)
        assert w2['type'] == 'error' and w2['code'] == 'unauthorized', w2
        s2.close()
    s2, w2 = join(n2, 'vault', secret='tea')
    assert w2['type'] == 'welcome' and w2['peers'][0]['id'] == w1['id'], w2

    b.send({'type': 'leave'})
    left = a.expect('peer-left')
    assert left['peer']['id'] == wb['id'], left
    # the seat B left is free again, on either node
    c, wc = join(n1, 'kitchen')
    assert wc['type'] == 'welcome' and wc['peers'][0]['id'] == wa['id'], wc
    assert a.expect('peer-joined')['peer']['id'] == wc['id']
    for ws in (a, b, c, s1, s2):
        ws.close()
    n1.stop()
    n2.stop()


def test_strangers_across_nodes():
    """Strangers queued on different nodes are paired, each once."""
    _, nodes = cluster()
    waiting = {}
    for i in range(8):
        server = nodes[i % 2]
        ws, w = join(server, None, source='127.0.0.%d' % (i + 1))
        assert w['type'] == 'welcome', w
        if i % 2 == 0:
            assert w['peers'] == [] and w['room'].startswith('stranger-'), w
            waiting[w['room']] = (ws, w['id'])
        else:
            # on the other node than the one waiting
            assert w['room'] in waiting, (w, waiting)
            first, first_id = waiting.pop(w['room'])
            assert w['peers'][0]['id'] == first_id, w
            assert first.expect('peer-joined')['peer']['id'] == w['id']
    assert not waiting

    # "next" means somebody else, across nodes too: two who just parted
    # both wait, and the next one is paired with the first of them
    s1, w1 = join(nodes[0], None, source='127.0.2.1')
    s2, w2 = join(nodes[1], None, source='127.0.2.2')
    assert w2['peers'][0]['id'] == w1['id'], w2
    s1.expect('peer-joined')
    s2.send({'type': 'leave'})
    s1.expect('peer-left')
    s1.send({'type': 'leave'})
    for ws in (s1, s2):
        ws.send({'type': 'join', 'version': 1})
        again = ws.expect('welcome')
        assert again['peers'] == [], again
    s3, w3 = join(nodes[0], None, source='127.0.2.3')
    assert len(w3['peers']) == 1 and w3['peers'][0]['id'] == w1['id'], w3
    for ws in (s1, s2, s3):
        ws.close()

    # many at once on both nodes: nobody is handed out twice, nobody is
    # left waiting
    results = []
    lock = threading.Lock()

    def stranger(i):
        ws, w = join(nodes[i % 2], None, source='127.0.1.%d' % (i + 1))
        with lock:
            results.append((ws, w))

    threads = [threading.Thread(target=stranger, args=(i,))
               for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rooms = {}
    for ws, w in results:
        assert w['type'] == 'welcome', w
        rooms.setdefault(w['room'], []).append(w)
    for room, ws in rooms.items():
        assert len(ws) <= 2, (room, ws)
        if len(ws) == 2:
            assert sum(len(w['peers']) for w in ws) == 1, ws
    # picking and queueing are one step in Redis: nobody waits while
    # another waits too (all 20 come from different addresses)
    assert sorted(len(w) for w in rooms.values()) == [2] * 10, rooms
    for ws, _ in results:
        ws.close()


def test_fifty_rooms_at_once():
    """50 rooms, three parties each joining at once on random nodes:
    never three in a room."""
    _, nodes = cluster(3)
    answers = {}
    lock = threading.Lock()
    sockets = []

    def party(room, i):
        ws, w = join(random.choice(nodes), room,
                     source='127.0.%d.%d' % (2 + i % 3, 1 + room_index(room)))
        with lock:
            answers.setdefault(room, []).append(w)
            sockets.append(ws)

    def room_index(room):
        return int(room.split('-')[1])

    threads = [threading.Thread(target=party, args=('race-%d' % r, i))
               for r in range(50) for i in range(3)]
    random.shuffle(threads)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for room, ws in answers.items():
        kinds = sorted(w['type'] if w['type'] == 'welcome' else w['code']
                       for w in ws)
        assert kinds == ['room-full', 'welcome', 'welcome'], (room, ws)
    for ws in sockets:
        ws.close()


def test_node_killed():
    """kill -9 node 1 with A on it: A comes back on node 2 with its id and
    B sees the same party; node 1's other seats are free within the
    bound."""
    _, (n1, n2) = cluster()
    a, wa = join(n1, 'call', name='A')
    b, wb = join(n2, 'call', name='B')
    assert a.expect('peer-joined')['peer']['id'] == wb['id']
    c, _ = join(n1, 'other')
    d, _ = join(n1, 'other')
    full, wf = join(n2, 'other')
    assert wf['type'] == 'error' and wf['code'] == 'room-full', wf
    e1, we1 = join(n1, 'orphan')
    f2, wf2 = join(n2, 'orphan')
    assert e1.expect('peer-joined')['peer']['id'] == wf2['id']

    n1.proc.send_signal(signal.SIGKILL)
    n1.proc.wait()
    t0 = time.monotonic()
    a2, wa2 = join(n2, 'call', name='A', id=wa['id'])
    assert wa2['type'] == 'welcome', wa2
    assert wa2['id'] == wa['id'], wa2
    assert wa2['peers'] == [{'id': wb['id'], 'name': 'B'}], wa2
    joined = b.expect('peer-joined')
    assert joined['peer'] == {'id': wa['id'], 'name': 'A'}, joined
    send_candidate(a2, 0)
    expect_signals(b, wa['id'], 1)
    send_candidate(b, 0)
    expect_signals(a2, wb['id'], 1)

    # node 1's seats in "other" free themselves (its liveness key expires)
    deadline = t0 + 3 * SEAT_BOUND_S
    while True:
        full.send({'type': 'join', 'room': 'other', 'version': 1})
        w = full.recv()
        if w['type'] == 'welcome':
            break
        assert w['code'] == 'room-full', w
        assert time.monotonic() < deadline, 'seats of node 1 still taken'
        time.sleep(0.5)
    freed = time.monotonic() - t0
    e, we = join(n2, 'other')
    assert we['type'] == 'welcome', we
    # a party of node 2 whose peer was on node 1, and did not come back,
    # is told it left, as when a peer's socket dies on one server
    left = f2.expect('peer-left', timeout=3 * SEAT_BOUND_S)
    assert left['peer']['id'] == we1['id'], left
    print('# node 1 killed: its seats were free after %.1f s (bound: %d s '
          'after its last refresh; polled every 0.5 s)'
          % (freed, SEAT_BOUND_S))
    for ws in (a2, b, full, e, f2):
        ws.close()
    n2.stop()


def test_node_stopped():
    """A node stopped (SIGTERM) gives its seats back at once: a new party
    takes one on the other node, and the peer there is told peer-left."""
    _, (n1, n2) = cluster()
    a, wa = join(n1, 'bye')
    b, wb = join(n2, 'bye')
    a.expect('peer-joined')
    n1.stop()
    n1.wait_log('stopped')
    c, wc = join(n2, 'bye')
    assert wc['type'] == 'welcome', wc
    assert [p['id'] for p in wc['peers']] == [wb['id']], wc
    msgs = []
    while True:
        msg = b.recv(timeout=3 * SEAT_BOUND_S)
        msgs.append(msg['type'])
        if msg['type'] == 'peer-joined':
            break
    assert msgs == ['peer-left', 'peer-joined'], msgs
    for ws in (b, c):
        ws.close()
    n2.stop()


def test_rejoin_on_other_node():
    """A, still connected to node 1, comes back on node 2 with its id: it
    takes its own seat over, node 1 closes its old connection (1001), and
    B sees the same party join."""
    _, (n1, n2) = cluster()
    a, wa = join(n1, 'move', name='A')
    b, wb = join(n1, 'move', name='B')
    a.expect('peer-joined')
    a2, wa2 = join(n2, 'move', name='A', id=wa['id'])
    assert wa2['type'] == 'welcome' and wa2['id'] == wa['id'], wa2
    assert wa2['peers'] == [{'id': wb['id'], 'name': 'B'}], wa2
    joined = b.expect('peer-joined')
    assert joined['peer'] == {'id': wa['id'], 'name': 'A'}, joined
    try:
        while True:
            msg = a.recv()
            assert msg['type'] != 'peer-left', msg
    except ConnectionError as e:
        assert 'closed by the server' in str(e), e
    n1.wait_log('joined again on another node')
    send_candidate(b, 0)
    expect_signals(a2, wb['id'], 1)
    send_candidate(a2, 0)
    expect_signals(b, wa['id'], 1)
    for ws in (a2, b):
        ws.close()
    n1.stop()
    n2.stop()


def test_redis_lost_and_back():
    """Redis stopped: joins refused with unavailable, /healthz says so, the
    node's own pair goes on relaying; Redis back (empty): joins work again,
    the seats held meanwhile are still taken and a room's secret still
    holds."""
    redis, (n1, n2) = cluster()
    a, wa = join(n1, 'local')
    b, wb = join(n1, 'local')
    a.expect('peer-joined')
    g, wg = join(n1, 'guarded', secret='tea')
    assert wg['type'] == 'welcome', wg
    redis.stop()

    wait_until(lambda: http_get(n1, '/healthz')[0] == 503, 15,
               '/healthz to say Redis is gone')
    status, _, body = http_get(n1, '/healthz')
    assert b'"redis":"down"' in body and b'"status":"unavailable"' in body, \
        body
    _, _, metrics = http_get(n1, '/metrics')
    assert b'letschat_redis_up 0' in metrics, metrics
    c, wc = join(n1, 'elsewhere')
    assert wc['type'] == 'error' and wc['code'] == 'unavailable', wc
    assert 'try again' in wc['message'], wc
    send_candidate(a, 0)
    expect_signals(b, wa['id'], 1)

    again = Redis(redis.port)
    REDIS.append(again)
    wait_until(lambda: redis_up(n1) and redis_up(n2), 30,
               'both nodes back on Redis')
    # Redis came back empty: node 1 put its parties' seats back, and the
    # room's salted secret with them
    wait_until(lambda: again.command('EXISTS', 'lc:room:guarded') == ':1',
               15, 'node 1 to take its seats again')
    for fields in ({'secret': 'coffee'}, {}):
        h, wh = join(n2, 'guarded', **fields)
        assert wh['type'] == 'error' and wh['code'] == 'unauthorized', wh
        h.close()
    h, wh = join(n2, 'guarded', secret='tea')
    assert wh['type'] == 'welcome' and wh['peers'][0]['id'] == wg['id'], wh
    _, _, metrics = http_get(n1, '/metrics')
    assert b'letschat_redis_up 1' in metrics, metrics
    c.send({'type': 'join', 'room': 'elsewhere', 'version': 1})
    assert c.recv()['type'] == 'welcome'
    # the pair of node 1 took its seats again: a third party on node 2
    # finds the room full
    d, wd = join(n2, 'local')
    assert wd['type'] == 'error' and wd['code'] == 'room-full', wd
    for ws in (a, b, c, d, g, h):
        ws.close()
    n1.stop()
    n2.stop()


def assert_nodes_work(redis, *nodes):
    """Every node still running, back on Redis, and a room across each
    pair of them works (welcome, peer-joined)."""
    for n in nodes:
        assert n.proc.poll() is None, \
            'node exited with %s: %r' % (n.proc.returncode, n.log()[-5:])
    wait_until(lambda: all(redis_up(n) for n in nodes), 30,
               'every node back on Redis (/healthz 200, redis up)')
    room = 'after-%d' % random.randrange(1 << 30)
    a, wa = join(nodes[0], room)
    b, wb = join(nodes[-1], room)
    assert wa['type'] == 'welcome' and wb['type'] == 'welcome', (wa, wb)
    assert [p['id'] for p in wb['peers']] == [wa['id']], wb
    assert a.expect('peer-joined')['peer']['id'] == wb['id']
    a.close()
    b.close()


def test_redis_down_for_seconds():
    """Redis stopped (SIGTERM, then SIGKILL) for a few seconds, shorter and
    longer than the 5 s of silence after which a node gives up on it, with
    a call across the nodes and without: both nodes live through it (each
    failed reconnection freed a context hiredis had not connected yet, and
    the next one freed it again: both nodes crashed), and work once it is
    back."""
    redis, (n1, n2) = cluster()
    a, wa = join(n1, 'through')
    b, wb = join(n2, 'through')
    a.expect('peer-joined')
    for down_s, sig in ((3, signal.SIGTERM), (7, signal.SIGKILL)):
        redis.stop(sig)
        wait_until(lambda: all(http_get(n, '/healthz')[0] == 503
                               for n in (n1, n2)), 15,
                   'both nodes to say Redis is gone')
        # an outage of this length is the case tested, not a wait
        time.sleep(down_s)
        redis = Redis(redis.port)
        REDIS.append(redis)
        assert_nodes_work(redis, n1, n2)
    # and without parties
    for ws in (a, b):
        ws.close()
    redis.stop(signal.SIGTERM)
    wait_until(lambda: http_get(n1, '/healthz')[0] == 503, 15,
               'node 1 to say Redis is gone')
    time.sleep(3)
    redis = Redis(redis.port)
    REDIS.append(redis)
    assert_nodes_work(redis, n1, n2)
    n1.stop()
    n2.stop()


def test_node_before_redis():
    """A node started before its Redis: it refuses joins (unavailable),
    tries again and again without crashing, and takes joins once Redis
    is up."""
    port = free_port()
    url = 'redis://127.0.0.1:%d' % port
    n1 = Server('--redis', url, '--node-id', 'early')
    n1.wait_log('redis not reached')
    assert http_get(n1, '/healthz')[0] == 503
    c, wc = join(n1, 'early')
    assert wc['type'] == 'error' and wc['code'] == 'unavailable', wc
    c.close()
    # Redis a second later: several attempts fail meanwhile (backoff from
    # 250 ms), the case tested
    time.sleep(1.5)
    redis = Redis(port)
    REDIS.append(redis)
    n2 = node(redis, 'late')
    assert_nodes_work(redis, n1, n2)
    n1.stop()
    n2.stop()


def party(server, room, name):
    """A gst-launch-1.0 party (letschatsink + letschatsrc, test video in,
    decoded video to a fakesink) on @server; its bus messages (-m) and a
    line per decoded frame (-v, the fakesink's last-message) go to a list
    of lines."""
    url = 'ws://127.0.0.1:%d/ws' % server.port
    argv = ['gst-launch-1.0', '-m', '-v', 'videotestsrc', 'is-live=true', '!',
            'letschatsink', 'name=s', 'room=' + room, 'server-url=' + url,
            'display-name=' + name, 'letschatsrc', 'name=r', 'room=' + room,
            'server-url=' + url, 'display-name=' + name, 'r.', '!', 'queue',
            '!', 'fakesink', 'async=false', 'silent=false']
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines = []
    threading.Thread(target=lambda: lines.extend(proc.stdout),
                     daemon=True).start()
    return proc, lines


def call_story(lines, *nodes):
    """What a failed call test shows: the party's letschat messages and
    errors, and the nodes' last log lines."""
    story = [l for l in list(lines)
             if 'letschat/' in l or 'ERROR' in l or 'WARN' in l]
    for server in nodes:
        story += server.log()[-20:]
    return '\n'.join(story[-60:])


def frames(lines):
    return sum('last-message = chain' in line for line in list(lines))


def test_media_across_nodes():
    """Two gst-launch-1.0 parties on two nodes, one room: each decodes the
    other's video (the elements see no difference from one server); Redis
    restarted mid-call: the frames go on, nobody is told peer-left."""
    redis, (n1, n2) = cluster()
    parties = [party(n1, 'media', 'One'), party(n2, 'media', 'Two')]
    try:
        for proc, lines in parties:
            wait_until(lambda: any('letschat/first-frame, pad=(string)video_0'
                                   in line for line in lines), 90,
                       'the first decoded frame:\n' + ''.join(lines[-30:]))
        assert any('peer-name=(string)Two' in line
                   for line in parties[0][1]), ''.join(parties[0][1][-30:])

        redis.stop()
        wait_until(lambda: not redis_up(n1) and not redis_up(n2), 15,
                   'the nodes to see Redis gone')
        REDIS.append(Redis(redis.port))
        wait_until(lambda: redis_up(n1) and redis_up(n2), 30,
                   'the nodes back on Redis')
        for proc, lines in parties:
            before = frames(lines)
            # a loaded machine decodes a few frames a second: a few more
            # say the call goes on
            wait_until(lambda: frames(lines) >= before + 5, 60,
                       'more frames after Redis came back (%d before):\n%s'
                       % (before, call_story(lines, n1, n2)))
            assert proc.poll() is None, ''.join(lines[-30:])
            assert not any('letschat/peer-left' in line or 'ERROR' in line
                           for line in list(lines)), call_story(lines, n1, n2)
    finally:
        for proc, _ in parties:
            proc.send_signal(signal.SIGINT)
        for proc, _ in parties:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    n1.stop()
    n2.stop()


def test_redis_hung():
    """A Redis that answers nothing (SIGSTOP, as behind a network that
    drops packets): the nodes give up on it after a few seconds (a join
    waiting for it gets unavailable, /healthz 503); a party that left
    meanwhile has its seat given back and its peer on the other node told
    peer-left once Redis answers again."""
    redis, (n1, n2) = cluster()
    a, wa = join(n1, 'hung')
    b, wb = join(n2, 'hung')
    a.expect('peer-joined')
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        b.send({'type': 'leave'})
        c, wc = join(n1, 'elsewhere')
        assert wc['type'] == 'error' and wc['code'] == 'unavailable', wc
        wait_until(lambda: http_get(n2, '/healthz')[0] == 503, 20,
                   'node 2 to give up on Redis')
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: redis_up(n1) and redis_up(n2), 30,
               'both nodes back on Redis')
    left = a.expect('peer-left', timeout=20)
    assert left['peer']['id'] == wb['id'], left
    d, wd = join(n2, 'hung')
    assert wd['type'] == 'welcome', wd
    assert [p['id'] for p in wd['peers']] == [wa['id']], wd
    for ws in (a, b, c, d):
        ws.close()
    n1.stop()
    n2.stop()


def test_redis_password():
    """redis://:PASSWORD@HOST:PORT: the node authenticates; a wrong
    password is said in the log, and the node refuses joins."""
    redis = Redis(None, '--requirepass', 's3cret')
    REDIS.append(redis)
    good = Server('--redis', 'redis://:s3cret@127.0.0.1:%d' % redis.port)
    wait_until(lambda: redis_up(good), 15, 'the node to reach Redis')
    a, wa = join(good, 'locked')
    assert wa['type'] == 'welcome', wa
    bad = Server('--redis', 'redis://:not-the-pass-7@127.0.0.1:%d'
                 % redis.port)
    bad.wait_log('redis refused this node')
    assert not any('not-the-pass' in line for line in bad.log()), bad.log()
    b, wb = join(bad, 'locked')
    assert wb['type'] == 'error' and wb['code'] == 'unavailable', wb
    for ws in (a, b):
        ws.close()
    good.stop()
    bad.stop()


TESTS = [test_two_nodes_one_room, test_strangers_across_nodes,
         test_fifty_rooms_at_once, test_node_killed, test_node_stopped,
         test_rejoin_on_other_node, test_redis_lost_and_back,
         test_redis_hung, test_redis_password, test_redis_down_for_seconds,
         test_node_before_redis,
         test_media_across_nodes]


def stop_redis():
    while REDIS:
        REDIS.pop().stop()


if __name__ == '__main__':
    sys.exit(run_tap(TESTS, after_each=stop_redis, skip_all=(
        'redis-server is not installed (Debian package redis-server)'
        if shutil.which('redis-server') is None else None)))
