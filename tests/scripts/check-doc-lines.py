#!/usr/bin/python3
"""Every command in the ```sh blocks of README.md and docs/*.md is run as
written, so that a documented line that stops working fails the suite.

    check-doc-lines.py SOURCE_ROOT BUILD_ROOT [FILE:LINE ...]

What the test changes, and only that (each case prints the line it ran):
- display and audio sinks (autovideosink, autoaudiosink, ...) become
  `fakesink silent=false`, and gst-launch-1.0 / gst-play-1.0 run with -v,
  so that the buffers reaching them can be counted;
- the room server: `127.0.0.1:8443`, `localhost:8443` and the docs' example
  address 192.0.2.2 become the servers this test starts from the docs' own
  server lines, on free ports (a `serve=true` line hosts on a free port of
  its own); an element with no server-url gets one; `--host 0.0.0.0`
  becomes 127.0.0.1;
- the room: every room name becomes one of this case's own;
- `build/`, `examples/`, `letschat-server`: the paths of this build;
  `/etc/letschat/` a directory of this test's own (so the docs' lines that
  make the TURN secret there, head ... > FILE and chmod, run for real);
- a letschat-server line listens on a free port (its own `--port N`
  becomes that port); a `redis-server` line too, and the nodes'
  `--redis redis://127.0.0.1:6379` then name it; a node (`--redis`) must
  answer /healthz with 200 (it reaches Redis), and is never the server
  other lines are pointed at; its `--config FILE` is the ```ini block the docs
  show before it, written to FILE; a `--turn-secret FILE` that no line
  before it made is made the way docs/networks.md does;
- a line's own plain `fakesink` gets silent=false (to count its buffers);
- a `strangers=true` line gets a room server of its own, and its partner
  asks for a stranger too (in a room it would never meet it).

curl lines run against the servers, and must exit 0. meson, ninja, sudo,
apt-get, systemctl and man lines are listed as skipped (they build, install
or change the machine).

A line that receives must get buffers (at its fakesinks, or in the file it
writes); a line that only sends must reach a partner pipeline the test
starts (which must get buffers); both must reach PLAYING with no ERROR and
stop on Ctrl-C (SIGINT). Two cases run at a time.

A line the test cannot run (it needs a camera, a display, a browser, or
is the test suite itself) is marked in the Markdown, just before its block:

    <!-- doc-test: skip "COMMAND PREFIX": REASON -->
    <!-- doc-test: skip: REASON -->          (the whole block)

and the test lists what it skipped and why. A command the test has no rule
for, unmarked, fails with its file and line.
"""
import base64
import concurrent.futures
import glob
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SOURCE = os.path.abspath(sys.argv[1])
BUILD = os.path.abspath(sys.argv[2])
ONLY = sys.argv[3:]
SERVER = os.environ.get('LETSCHAT_SERVER',
                        os.path.join(BUILD, 'ext/server/letschat-server'))
TIMEOUT = 40          # s, for each step of a case (a loaded machine is slow)
MIN_BUFFERS = 20
MIN_FILE = 10000      # bytes
# The docs' /etc/letschat/ (where the TURN secret goes) is this directory,
# made in the test's own temporary directory by main().
ETC = None

SINKS = r'autovideosink|autoaudiosink|xvimagesink|ximagesink|glimagesink|' \
    r'gtksink|gtkglsink|waylandsink|kmssink|pulsesink|alsasink|osxvideosink'
# -v's property notes and the multi-line values some have (DTLS PEM).
NOISE = re.compile(r'^\s*$|^[A-Za-z0-9+/=]{16,}$|^-----(BEGIN|END) ')
MARKER = re.compile(r'<!--\s*doc-test:\s*skip(?:\s+"([^"]+)")?\s*:\s*(.+?)\s*-->')


# Commands that build, install or change the machine: the suite runs on the
# build it tests (installing is the install test's job). Listed as skipped.
NOT_RUN = {
    'meson': 'builds or installs: the suite tests the build it runs on',
    'ninja': 'builds: the suite tests the build it runs on',
    'sudo': 'changes the machine',
    'apt-get': 'changes the machine',
    'systemctl': 'changes the machine (a systemd unit)',
    'man': 'needs the installed manual page',
}


class Command:
    def __init__(self, path, line, text, skip, config=None):
        self.path, self.line, self.text, self.skip = path, line, text, skip
        self.config = config    # the last ```ini block before it, in its file
        self.where = f'{path}:{line}'
        self.shown = ' '.join(text.split())


def commands_of(path):
    """The commands of @path's sh blocks: continuation lines joined,
    comments dropped, with the skip markers written before the block."""
    rel = os.path.relpath(path, SOURCE)
    lines = open(path, encoding='utf-8').read().split('\n')
    out, markers, block, current = [], [], None, None
    config, ini = None, None
    for n, line in enumerate(lines, 1):
        fence = re.match(r'\s*```\s*(\S*)', line)
        if fence and block is None:
            block = fence.group(1).lower()
            ini = [] if block == 'ini' else None
            continue
        if fence:
            if ini is not None:
                config = '\n'.join(ini) + '\n'
            block, markers, ini = None, [], None
            continue
        if block is None:
            markers += MARKER.findall(line)
            continue
        if ini is not None:
            ini.append(line.strip())
            continue
        if block not in ('sh', 'bash', 'shell', 'console'):
            continue
        code = re.sub(r'(^|\s)#.*$', '', line).rstrip()
        if current is None:
            if not code.strip():
                continue
            current = [n, code]
        else:
            current[1] += '\n' + code
        if not code.endswith('\\'):
            text = current[1].replace('\\\n', ' ')
            skip = None
            for prefix, reason in markers:
                if not prefix or ' '.join(text.split()).startswith(prefix):
                    skip = reason
            out.append(Command(rel, current[0], text, skip, config))
            current = None
    return out


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            raise Failure(f'{what} exited ({proc.returncode}) before listening')
        try:
            socket.create_connection(('127.0.0.1', port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise Failure(f'{what} did not listen on {port} within {TIMEOUT} s')


class Failure(Exception):
    pass


class Process:
    """A command in its own process group, its output collected."""

    def __init__(self, argv_or_line, cwd, env, stdin=subprocess.DEVNULL):
        self.out = []
        shell = isinstance(argv_or_line, str)
        self.proc = subprocess.Popen(
            argv_or_line if not shell else ['bash', '-c', argv_or_line],
            cwd=cwd, env=env, stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True, errors='replace')
        self.buffers = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            if 'last-message = chain' in line:
                self.buffers += 1
            elif not (line.startswith('/Gst') or NOISE.match(line)):
                self.out.append(line.rstrip('\n'))

    def text(self):
        return '\n'.join(self.out)

    def error(self):
        for line in self.out:
            if line.startswith(('ERROR', 'WARNING: erroneous pipeline',
                                'WARNING: no element')) or \
                    'No such element' in line or 'command not found' in line:
                return line
        return None

    def stop(self, grace=15):
        """Ctrl-C, as a user stops it; True if it ended by itself then."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return False
        self.reader.join(5)
        return True

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


class Servers:
    """The room servers the docs' own server lines start."""

    def __init__(self):
        self.plain = self.tls = None
        self.redis = None       # the port of the docs' redis-server
        self.procs = []


def rewrite_paths(text):
    text = re.sub(r'(^|\s|=)build/', lambda m: m.group(1) + BUILD + '/', text)
    text = re.sub(r'\$PWD/build/', BUILD + '/', text)
    text = re.sub(r'(^|\s)examples/', lambda m: m.group(1) + SOURCE +
                  '/examples/', text)
    text = re.sub(r'(^|\s)letschat-server(?=\s|$)',
                  lambda m: m.group(1) + SERVER, text)
    text = re.sub(r'(^|\s|[>=])/etc/letschat/', lambda m: m.group(1) + ETC + '/', text)
    return text.replace('192.0.2.2', '127.0.0.1')


def rewrite_http(text, servers):
    """curl and the like: the docs' server address becomes this test's."""
    def url(m):
        port = servers.tls if m.group(1) == 'https' else servers.plain
        return f'{m.group(1)}://127.0.0.1:{port}'
    return re.sub(r'\b(https?)://(?:127\.0\.0\.1|localhost):8443', url, text)


def rewrite_line(text, room, plain_port, tls_port):
    """A gst-launch-1.0 / gst-play-1.0 / example line, pointed at this
    case's servers and room, with sinks that count buffers."""
    text = rewrite_paths(text)
    text = re.sub(r'\b(?:%s)\b' % SINKS, 'fakesink silent=false', text)
    # A line's own fakesink prints its buffers too, so they can be counted.
    text = re.sub(r'\bfakesink\b(?![^!]*\bsilent=)', 'fakesink silent=false', text)

    def url(m):
        scheme = m.group(1)
        port = tls_port if scheme in ('wss', 'letschats') else plain_port
        return f'{scheme}://127.0.0.1:{port}'
    text = re.sub(r'\b(wss?|letschats?)://(?:127\.0\.0\.1|localhost)(?::8443)?(?=[/\'"\s]|$)',
                  url, text)
    text = re.sub(r'\b(letschats?://[^/\s\'"]+)/[A-Za-z0-9_.-]+', r'\1/' + room, text)
    text = re.sub(r'\broom=[A-Za-z0-9_.-]+', 'room=' + room, text)
    text = re.sub(r'--room\s+[A-Za-z0-9_.-]+', '--room ' + room, text)
    # Elements that rely on the default server-url get this case's.
    def element(m):
        rest = text[m.end():]
        props = re.match(r'(\s+[a-z-]+=\S+)*', rest).group(0)
        if 'server-url=' in props:
            return m.group(0)
        return f'{m.group(0)} server-url=ws://127.0.0.1:{plain_port}/ws'
    text = re.sub(r'\bletschat(?:sink|src)\b(?!\.)', element, text)
    if '--room' in text and '--server-url' not in text:
        text += f' --server-url ws://127.0.0.1:{plain_port}/ws'
    # Players choose their own sinks: give them fakesinks.
    fake = '"fakesink silent=false"'
    text = re.sub(r'\bplaybin\b(?![.\w-])', f'playbin video-sink={fake} audio-sink={fake}',
                  text)
    text = re.sub(r'^(\s*(?:\S+=\S+\s+)*)gst-play-1\.0\b',
                  rf'\1gst-play-1.0 --videosink={fake} --audiosink={fake}', text)
    text = re.sub(r'^(\s*(?:\S+=\S+\s+)*)(gst-launch-1\.0|gst-play-1\.0)\b',
                  r'\1\2 -v', text)
    return text


def partner(room, url, secret, codec, tls_ca, sends, receives):
    """The other party of a case: it sends test video and audio when the
    line receives, and counts what it receives when the line sends.  With
    no @room it asks for a stranger, as a strangers=true line does."""
    common = (f'room={room}' if room else 'strangers=true') + f' server-url={url}'
    if secret:
        common += f' secret={secret}'
    if tls_ca:
        common += f' tls-ca-file={tls_ca}'
    parts = []
    if sends:
        parts.append(f'videotestsrc is-live=true ! video/x-raw,width=320,height=240 ! '
                     f'letschatsink name=ps {common}'
                     + (f' video-codec={codec}' if codec else '')
                     + ' audiotestsrc is-live=true ! ps.')
    if receives:
        # async=false: a line that sends only video leaves the audio
        # branch without data, which must not hold the other in preroll.
        parts.append(f'letschatsrc name=pr {common} '
                     'pr. ! queue ! fakesink silent=false async=false '
                     'pr. ! queue ! fakesink silent=false async=false')
    return ['gst-launch-1.0', '-v'] + shlex.split(' '.join(parts))


def run_case(cmd, index, servers, env, work):
    """Runs one media command with its partner; returns a summary line or
    raises Failure."""
    room = f'doc{index}'
    text = cmd.text
    wss = bool(re.search(r'\b(wss|letschats)://', text))
    serve = 'serve=true' in text
    # A stranger is paired with whoever else waits on its server: such a
    # case gets a room server of its own, so that the line meets its
    # partner (who asks for a stranger too) and no other case's party.
    strangers = 'strangers=true' in text
    if wss and not servers.tls:
        raise Failure('needs the TLS room server of a docs line before it '
                      '(letschat-server --tls-cert ...), and none ran')
    if wss and strangers:
        raise Failure('no rule for a strangers=true line on a TLS server yet')
    plain = free_port() if serve or strangers else servers.plain
    line = rewrite_line(text, room, plain, servers.tls)
    cwd = os.path.join(work, room)
    os.makedirs(cwd)
    for f in ('cert.pem', 'key.pem'):
        if os.path.exists(os.path.join(work, f)):
            os.symlink(os.path.join(work, f), os.path.join(cwd, f))

    receives = bool(re.search(r'\bletschatsrc\b|\bplaybin\b|\buridecodebin\b|gst-play-1\.0|record-call', text))
    sends = bool(re.search(r'\bletschatsink\b|!\s*[\'"]?letschats?://', text))
    files = re.findall(r'(?:location=|--output\s+)(\S+)', line)
    secret = re.search(r'(?:secret=|[?&]secret=)([^&\s\'"]+)', text)
    codec = 'h264' if 'x-h264' in text else 'vp9' if 'x-vp9' in text else None
    port = servers.tls if wss else plain
    url = f'{"wss" if wss else "ws"}://127.0.0.1:{port}/ws'
    tls_ca = os.path.join(work, 'cert.pem') if wss else None

    own_server = None
    if strangers:
        own_server = Process([SERVER, '--port', str(plain)], cwd, env)
        try:
            wait_port(plain, own_server.proc, 'the strangers case\'s letschat-server')
        except Failure:
            own_server.kill()
            raise
    print(f'# {cmd.where}: running: {" ".join(line.split())}', flush=True)
    main = Process(line, cwd, env)
    other = None
    try:
        deadline = time.time() + TIMEOUT
        is_gst = re.search(r'gst-(launch|play)-1\.0', text)
        while is_gst and 'PLAYING' not in main.text() and 'Now playing' not in main.text():
            if main.proc.poll() is not None or main.error():
                raise Failure('did not reach PLAYING')
            if time.time() > deadline:
                raise Failure(f'not PLAYING after {TIMEOUT} s')
            time.sleep(0.05)
        if serve:
            wait_port(plain, main.proc, 'the serve=true pipeline')
        other = Process(partner(None if strangers else room, url,
                                secret and secret.group(1), codec, tls_ca,
                                sends=receives, receives=sends and not receives), cwd, env)

        def done():
            if receives and files:
                return all(os.path.exists(os.path.join(cwd, f)) and
                           os.path.getsize(os.path.join(cwd, f)) >= MIN_FILE for f in files)
            if receives:
                return main.buffers >= MIN_BUFFERS
            return other.buffers >= MIN_BUFFERS
        deadline = time.time() + TIMEOUT
        while not done():
            for p, who in ((main, 'the line'), (other, 'the partner pipeline')):
                if p.error():
                    raise Failure(f'{who}: {p.error()}')
                if p.proc.poll() is not None:
                    raise Failure(f'{who} exited ({p.proc.returncode}) before media arrived')
            if time.time() > deadline:
                raise Failure(f'no media within {TIMEOUT} s (line: {main.buffers} buffers, '
                              f'partner: {other.buffers} buffers)')
            time.sleep(0.1)
        if not main.stop():
            raise Failure('did not stop within 15 s of Ctrl-C')
        if main.error():
            raise Failure(main.error())
        for f in files:
            if os.path.getsize(os.path.join(cwd, f)) < MIN_FILE:
                raise Failure(f'{f} has {os.path.getsize(os.path.join(cwd, f))} bytes')
        what = (f'{", ".join(files)} written' if receives and files else
                f'{main.buffers} buffers received' if receives else
                f'the partner received {other.buffers} buffers')
        return f'ok {cmd.where}: {"PLAYING, " if is_gst else ""}no ERROR, {what}'
    except Failure as e:
        raise Failure(f'{e}\n  ran: {" ".join(line.split())}\n  its output:\n    '
                      + '\n    '.join(main.text().splitlines()[-25:])
                      + ('\n  partner output:\n    ' + '\n    '.join(other.text().splitlines()[-15:])
                         if other else ''))
    finally:
        main.kill()
        if other:
            other.stop(5)
            other.kill()
        if own_server:
            own_server.stop(5)
            own_server.kill()


def run_chat(cmd, index, servers, env, work):
    """A chat example (examples/chat, chat.py): it joins the room, and what
    is typed into it reaches a partner (the C example)."""
    room = f'doc{index}'
    line = rewrite_line(cmd.text, room, servers.plain, servers.tls)
    name = re.search(r'--name\s+(\S+)', line)
    name = name.group(1) if name else None
    url = f'ws://127.0.0.1:{servers.plain}/ws'
    print(f'# {cmd.where}: running: {" ".join(line.split())}', flush=True)
    main = Process(line, work, env, stdin=subprocess.PIPE)
    other = Process([os.path.join(BUILD, 'examples/chat'), '--room', room, '--name',
                     'partner', '--server-url', url], work, env, stdin=subprocess.PIPE)
    said = f'hello from {cmd.where}'

    def wait(proc, text, what):
        deadline = time.time() + TIMEOUT
        while text not in proc.text():
            if proc.proc.poll() is not None:
                raise Failure(f'{what}: exited ({proc.proc.returncode})')
            if time.time() > deadline:
                raise Failure(f'{what}: no "{text}" within {TIMEOUT} s')
            time.sleep(0.1)
    try:
        wait(main, 'the other party joined (partner)', 'the line')
        main.proc.stdin.write(said + '\n')
        main.proc.stdin.flush()
        wait(other, f': {said}', 'the partner')
        if name and f'chat: {name}: {said}' not in other.text():
            raise Failure(f'the partner did not see the name {name}')
        return f'ok {cmd.where}: joined, its chat line reached the other party'
    except Failure as e:
        raise Failure(f'{e}\n  ran: {" ".join(line.split())}\n  its output:\n    '
                      + '\n    '.join(main.text().splitlines()[-15:])
                      + '\n  partner output:\n    '
                      + '\n    '.join(other.text().splitlines()[-15:]))
    finally:
        for p in (main, other):
            p.stop(5)
            p.kill()


def run_now(cmd, line, env, work, expect=None):
    """A command that ends by itself: exit 0 (and @expect in its output)."""
    print(f'# {cmd.where}: running: {" ".join(line.split())}', flush=True)
    r = subprocess.run(['bash', '-c', line], cwd=work, env=env, text=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    if r.returncode != 0 or (expect and expect not in r.stdout):
        raise Failure(f'exit {r.returncode}\n  ran: {line}\n  its output:\n'
                      + r.stdout[-2000:] + r.stderr[-2000:])
    return f'ok {cmd.where}: exit 0'


def rewrite_redis(text, servers):
    """a cluster node's --redis: the docs' redis-server, on its free port"""
    if servers.redis is None:
        return text
    return re.sub(r'redis://(?:127\.0\.0\.1|localhost):6379\b',
                  f'redis://127.0.0.1:{servers.redis}', text)


def start_redis(cmd, servers, env, work):
    """redis-server, for the cluster nodes of docs/deployment.md"""
    port = free_port()
    line = re.sub(r'--port\s+\d+', f'--port {port}', cmd.text)
    if f'--port {port}' not in line:
        line += f' --port {port}'
    print(f'# {cmd.where}: starting: {" ".join(line.split())}', flush=True)
    proc = Process(line, work, env)
    servers.procs.append(proc)
    wait_port(port, proc.proc, 'redis-server')
    servers.redis = port
    return f'ok {cmd.where}: listening (port {port})'


def wait_healthy(port, proc):
    """a cluster node: /healthz says 200 once it reaches Redis"""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            raise Failure(f'letschat-server exited ({proc.returncode})')
        try:
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with direct.open(f'http://127.0.0.1:{port}/healthz', timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:     # 503 (HTTPError) while Redis is not reached yet
            pass
        time.sleep(0.2)
    raise Failure(f'the node on {port} did not reach Redis within {TIMEOUT} s '
                  '(/healthz was not 200)')


def start_server(cmd, servers, env, work):
    line = rewrite_paths(cmd.text).replace('--host 0.0.0.0', '--host 127.0.0.1')
    line = rewrite_redis(line, servers)
    port = free_port()
    if re.search(r'--port\s+\d+', line):
        line = re.sub(r'--port\s+\d+', f'--port {port}', line)
    else:
        line += f' --port {port}'
    # --config FILE: the [server] file the docs show just before the line.
    config = re.search(r'--config\s+(\S+)', line)
    if config and not os.path.isabs(config.group(1)):
        if not cmd.config:
            raise Failure(f'--config {config.group(1)}: no ```ini block before it '
                          f'in {cmd.path} to write that file from')
        with open(os.path.join(work, config.group(1)), 'w') as f:
            f.write(cmd.config)
    # --turn-secret FILE: a line that comes before the docs' step that
    # makes the secret (docs/networks.md) gets one made the same way.
    secret = re.search(r'--turn-secret\s+(\S+)', line)
    if secret and not os.path.exists(secret.group(1)):
        with open(secret.group(1), 'w') as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + '\n')
        os.chmod(secret.group(1), 0o640)
    print(f'# {cmd.where}: starting: {" ".join(line.split())}', flush=True)
    proc = Process(line, work, env)
    servers.procs.append(proc)
    wait_port(port, proc.proc, 'letschat-server')
    if '--redis' in line:
        # a cluster node: the other docs' lines keep their own server
        wait_healthy(port, proc.proc)
        return f'ok {cmd.where}: listening (port {port}), reaches Redis'
    if '--tls-cert' in line:
        servers.tls = port
    else:
        servers.plain = port
    return f'ok {cmd.where}: listening (port {port})'


def main():
    files = glob.glob(os.path.join(SOURCE, 'README.md')) + \
        sorted(glob.glob(os.path.join(SOURCE, 'docs', '*.md')))
    cmds = [c for f in files for c in commands_of(f)]
    if ONLY:
        cmds = [c for c in cmds if c.where in ONLY or c.skip is None and
                any(c.where.startswith(o) for o in ONLY)]
    env = dict(os.environ)
    work = tempfile.mkdtemp(prefix='doc-lines-')
    global ETC
    ETC = os.path.join(work, 'etc', 'letschat')
    os.makedirs(ETC)
    servers = Servers()
    results, failures, skipped, media = [], [], [], []

    def ok(text):
        results.append(text)
        print(text, flush=True)

    def fail(cmd, e):
        failures.append(f'FAIL {cmd.where}: {cmd.shown}\n  {e}')

    try:
        if not any(re.search(r'letschat-server(?!\S)', c.text) and '--tls-cert' not in c.text
                   and '--redis' not in c.text and not c.skip for c in cmds):
            # No docs line starts a plain server: start one as they would.
            port = free_port()
            proc = Process([SERVER, '--port', str(port)], work, env)
            servers.procs.append(proc)
            wait_port(port, proc.proc, 'letschat-server')
            servers.plain = port
        # Setup first, in the docs' order: certificates, servers.
        for cmd in cmds:
            first = rewrite_paths(cmd.text).split()
            while first and re.match(r'[A-Z_][A-Z0-9_]*=', first[0]):
                first.pop(0)        # VAR=value before the command
            word = os.path.basename(first[0]) if first else ''
            try:
                if cmd.skip:
                    skipped.append(f'skip {cmd.where}: {cmd.shown}\n  because: {cmd.skip}')
                elif word in NOT_RUN:
                    skipped.append(f'skip {cmd.where}: {cmd.shown}\n  because: {NOT_RUN[word]}')
                elif word == 'curl':
                    ok(run_now(cmd, rewrite_http(rewrite_paths(cmd.text), servers), env, work))
                elif word == 'openssl':
                    ok(run_now(cmd, rewrite_paths(cmd.text), env, work))
                elif word == 'letschat-server':
                    ok(start_server(cmd, servers, env, work))
                elif word == 'redis-server':
                    ok(start_redis(cmd, servers, env, work))
                elif word in ('head', 'chmod') and '/etc/letschat/' in cmd.text:
                    # Making the TURN secret: into the test's own /etc/letschat.
                    ok(run_now(cmd, rewrite_paths(cmd.text), env, work))
                elif word == 'export':
                    ok(run_now(cmd, rewrite_paths(cmd.text), env, work))
                elif word == 'gst-inspect-1.0':
                    ok(run_now(cmd, rewrite_paths(cmd.text), env, work,
                               expect='Factory Details'))
                elif word in ('gst-launch-1.0', 'gst-play-1.0', 'record-call'):
                    media.append((run_case, cmd))
                elif word in ('chat', 'chat.py'):
                    media.append((run_chat, cmd))
                else:
                    failures.append(
                        f'FAIL {cmd.where}: {cmd.shown}\n  this test has no rule to run '
                        f'"{word}": give it one in tests/scripts/check-doc-lines.py, or '
                        f'mark it in {cmd.path} just before its block with '
                        f'<!-- doc-test: skip "{" ".join(cmd.shown.split()[:2])}": REASON -->')
            except (Failure, subprocess.TimeoutExpired) as e:
                fail(cmd, e)

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = {pool.submit(run, c, i, servers, env, work): c
                       for i, (run, c) in enumerate(media)}
            for fut in concurrent.futures.as_completed(futures):
                try:
                    ok(fut.result())
                except Failure as e:
                    fail(futures[fut], e)
    finally:
        for p in servers.procs:
            p.stop(5)
            p.kill()
        shutil.rmtree(work, ignore_errors=True)

    print('\n'.join(skipped))
    print('\n'.join(failures))
    print(f'{len(results)} documented commands ran as written, {len(skipped)} skipped '
          f'(reasons above), {len(failures)} failed')
    return 1 if failures or not results else 0


if __name__ == '__main__':
    sys.exit(main())
