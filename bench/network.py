#!/usr/bin/python3
# The network half of the benchmark (issue 13): a 1280x720@30 video-only call
# from a sender namespace to a receiver namespace (with the room server) over
# a veth pair whose sender side is shaped, in four scenarios:
#
#   rate   600 kbit/s (tc tbf) throughout
#   step   4 Mbit/s, 500 kbit/s from 1/3 of the run, 4 Mbit/s from 2/3
#   loss3  3 % of what the sender sends dropped at random where it
#          arrives (nftables numgen in the receiver's input hook): UDP and
#          TCP alike, as ICE may pick ICE-TCP, but not the sender's
#          WebSocket to the room server (Link.drop says why there)
#   loss10 10 %
#
# each for four variants, one after the other in the same run (VARIANTS):
# letschat as it is, letschat as it was (congestion-control=none,
# do-retransmission=false), Chromium <-> Chromium (the anchor) and Chromium
# -> letschat. Both kinds of sender show the same busy picture
# (videotestsrc pattern=snow; Chromium's fake camera plays a y4m of it).
#
# Figures per run: received frame rate, glass-to-glass p50/p95 (frame
# numbers in the picture, bench/network-party.c: letschat -> letschat
# only), freezes (gaps over 200 ms between received frames) per minute,
# the video bitrate sent over time, and for the step how long the sent
# bitrate (1 s mean) took to go under the link after the drop and to reach
# 70 % of it after the rise. And the path: the candidate pair each side
# selected (types, udp or tcp; the parties print it), and in a loss
# scenario how many of that transport's packets the rule saw and dropped.
# A run whose call did not take the shaped path (no pair known; its
# transport's packets not through the loss rule, or far fewer of them
# dropped than set) is flagged NOT THE SHAPED PATH in the table and set
# beside neither the targets nor Chromium. JSON (with a markdown table of
# every figure beside its target and Chromium's) and one PNG per scenario
# in bench/results/ (docs/performance.md).
#
#   sudo /usr/bin/python3 bench/network.py [--seconds S] [--scenarios a,b]
#        [--variants a,b] [--out JSON]
#   /usr/bin/python3 bench/network.py --from JSON   (table and PNGs again)
#
# Root only (network namespaces). LETSCHAT_BENCH_NET_SECONDS sets the run
# length; LETSCHAT_BENCH_KEEP=DIR keeps every party's log.
#
# Each run starts from a clean state and leaves nothing behind: its
# namespaces (mnb<pid>s, mnb<pid>r; tc and nftables rules live and die with
# them) and every process in them are removed on every exit path (the end
# of a run, an exception, SIGINT/SIGTERM/SIGHUP, the interpreter's exit),
# and namespaces an earlier bench left (its process gone: killed with
# SIGKILL) are removed before the first run.
#
# A run that never connects (ICE/DTLS) is an error with the parties' last
# lines; a run that connects but decodes nothing is a measurement (0 fps):
# the link is too narrow for what the sender sends, which is what this
# bench is for. (Before, both were "no call within 60 s", and a busy
# source through 600 kbit/s read as "ICE never completed" when ICE and
# DTLS had completed in 30 ms and every keyframe was lost in the tbf.)
import argparse, atexit, json, os, re, signal, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("LETSCHAT_BUILD", os.path.join(ROOT, "build"))
PARTY = os.path.join(BUILD, "bench", "letschat-network-party")
SERVER = os.path.join(BUILD, "ext", "server", "letschat-server")
BROWSER = os.path.join(HERE, "network-browser.mjs")
# variant: (receiver, its properties, sender, its properties); a party is
# "letschat" (bench/network-party.c) or "chromium" (bench/network-browser.mjs
# on the room server's page)
VARIANTS = {
    # letschat as it is: its default congestion control, NACK/RTX
    "letschat": ("letschat", [], "letschat", []),
    # as it was (yesterday's behaviour): a fixed bitrate, no retransmission
    # (start-bitrate: the fixed 1 Mbit/s of then; the default is lower now)
    "none": ("letschat", ["do-retransmission=false"],
             "letschat", ["congestion-control=none", "do-retransmission=false",
                          "start-bitrate=1000000"]),
    # the anchor: Chromium <-> Chromium through the same link
    "chromium": ("chromium", [], "chromium", []),
    # Chromium sending to letschat: does it adapt on letschat's feedback?
    "chromium-to-letschat": ("letschat", [], "chromium", []),
}


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


LIVE = []  # links and processes to remove on any exit
PREFIX = "mnb"


def cleanup():
    while LIVE:
        x = LIVE.pop()
        try:
            stop(x) if isinstance(x, subprocess.Popen) else x.close()
        except Exception as e:  # go on removing the rest
            print("cleanup: %s" % e, file=sys.stderr)


def on_signal(signum, frame):
    # SystemExit unwinds the run's finally blocks, then atexit's cleanup
    raise SystemExit(128 + signum)


def pid_alive(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"network.py" in f.read()
    except OSError:
        return False


def remove_stale():
    """Namespaces an earlier bench left (killed with SIGKILL)."""
    names = sh("ip", "netns", "list", check=False).stdout.split()
    for name in names:
        m = re.fullmatch(PREFIX + r"(\d+)[sr]", name)
        if m and not pid_alive(int(m.group(1))):
            print("removing namespace %s left by an earlier run" % name, file=sys.stderr)
            kill_in(name)
            sh("ip", "netns", "del", name, check=False)


def kill_in(ns):
    """Every process still in namespace @ns (one that left its group)."""
    for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass


class Link:
    """Two namespaces joined by a veth pair; shaping on the sender's side."""

    def __init__(self):
        n = os.getpid() % 200 + 20
        self.tag = PREFIX + "%d" % os.getpid()
        self.s, self.r = self.tag + "s", self.tag + "r"
        self.s_ip, self.r_ip = "10.79.%d.2" % n, "10.79.%d.1" % n
        self.dev = self.tag + "a"
        self.close()  # whatever a run of this process left
        LIVE.append(self)
        sh("ip", "netns", "add", self.s)
        sh("ip", "netns", "add", self.r)
        sh("ip", "link", "add", self.dev, "netns", self.s, "type", "veth",
           "peer", "name", self.tag + "b", "netns", self.r)
        sh("ip", "-n", self.s, "addr", "add", self.s_ip + "/24", "dev", self.dev)
        sh("ip", "-n", self.r, "addr", "add", self.r_ip + "/24", "dev", self.tag + "b")
        for ns, dev in ((self.s, self.dev), (self.r, self.tag + "b")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.loss = False
        self.wait_ready()

    def wait_ready(self, timeout=10):
        """Until the veth's IPv6 link-local addresses have passed duplicate
        address detection (~2 s after the link comes up): a party started
        while they were still "tentative" sometimes gathered no ICE
        candidate at all, on either side (no offer's candidates, no
        connection state for 60 s: 1 run in ~10), as a machine whose
        addresses have long settled never does."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not any("tentative" in sh("ip", "-n", ns, "-o", "addr", "show").stdout
                       for ns in (self.s, self.r)):
                return
            time.sleep(0.1)
        raise RuntimeError("the veth's addresses were still tentative after %d s" % timeout)

    def rate(self, kbit):
        burst = "64kbit" if kbit >= 2000 else "32kbit"
        sh("ip", "netns", "exec", self.s, "tc", "qdisc", "replace", "dev",
           self.dev, "root", "tbf", "rate", "%dkbit" % kbit, "burst", burst,
           "latency", "400ms")

    def drop(self, percent, signalling_port):
        """@percent % of what the sender sends the receiver dropped at
        random, UDP and TCP alike (ICE may pair over either: ICE-TCP
        carried some calls), but the sender's WebSocket to the room server
        (@signalling_port: signalling is not the media path, and a lost
        join would be the bench's failure, not the call's).

        Dropped where the packets arrive (the receiver's input hook), not
        where they leave: a packet the sender's own output hook drops is a
        local send error, which TCP re-sends at once without counting it
        lost (verified: 23 segments dropped so, 0 retransmissions, no
        backoff), so a call over ICE-TCP saw no loss at all; dropped on
        arrival, TCP retransmits after a timeout as over a lossy link (15
        dropped, 15 retransmitted), and UDP's sendto() no longer fails.
        Each protocol's packets are counted and so are its drops (the
        rules' comments name them; counters() reads them)."""
        x = ["ip", "netns", "exec", self.r, "nft"]
        dev = self.tag + "b"
        sh(*x, "add", "table", "inet", self.tag)
        sh(*x, "add chain inet %s in { type filter hook input priority 0 ; }" % self.tag)
        sh(*x, "add", "rule", "inet", self.tag, "in", "iifname", dev, "tcp", "dport",
           str(signalling_port), "accept")
        # IPv4 or IPv6 alike (ICE often pairs the veth's link-local IPv6
        # addresses)
        for proto in ("udp", "tcp"):
            sh(*x, "add", "rule", "inet", self.tag, "in", "iifname", dev, "meta",
               "l4proto", proto, "counter", "comment", proto + "-seen")
            sh(*x, "add", "rule", "inet", self.tag, "in", "iifname", dev, "meta",
               "l4proto", proto, "numgen", "random", "mod", "100", "<", str(percent),
               "counter", "drop", "comment", proto + "-dropped")
        self.loss = True

    def counters(self):
        """{"udp-seen": packets, "udp-dropped": ..., "tcp-...": ...} of
        drop()'s rules, or {} when there are none."""
        if not self.loss:
            return {}
        out = sh("ip", "netns", "exec", self.r, "nft", "-j", "list", "table", "inet",
                 self.tag, check=False).stdout
        counts = {}
        try:
            for item in json.loads(out)["nftables"]:
                rule = item.get("rule")
                if rule and rule.get("comment"):
                    for e in rule["expr"]:
                        if "counter" in e:
                            counts[rule["comment"]] = e["counter"]["packets"]
        except (ValueError, KeyError) as e:  # the run's path_check says so
            print("nft counters unreadable: %s" % e, file=sys.stderr)
        return counts

    def close(self):
        for ns in (self.s, self.r):
            kill_in(ns)
            sh("ip", "netns", "del", ns, check=False)
        if self in LIVE:
            LIVE.remove(self)


def start(ns, *cmd, out):
    p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=out,
                         stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    LIVE.append(p)
    return p


def stop(p):
    """SIGTERM first (Chromium's party closes the browser and removes its
    profile), SIGKILL what is left of the group 5 s later."""
    if p and p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.wait()
    if p in LIVE:
        LIVE.remove(p)


def field(text, name):
    m = re.search(re.escape(name) + r'[\\]*=[\\]*\([a-z0-9]*[\\]*\)([0-9.e+-]+)', text)
    return float(m.group(1)) if m else None


def sub(text, name):
    """The text of the nested structure @name in a stats line."""
    i = text.find(name + "=(structure)")
    return text[i:text.find(";", i)] if i >= 0 else ""


def first(path, kind, index=1):
    """The time (us) of the first line starting with @kind in @path."""
    with open(path) as f:
        for line in f:
            p = line.split()
            if p and p[0] == kind and len(p) > index:
                return int(p[index])
    return None


def connected_at(path):
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0] == "state" and p[2] == "connected":
                return int(p[1])
    return None


def tail(path, n=8):
    with open(path) as f:
        lines = [l for l in f if not l.startswith(("stats ", "sent ", "recv "))]
    return "".join(lines[-n:])


# How long a party may take to connect (ICE and DTLS: milliseconds on an
# idle machine), and then to decode its first frame before the run is
# measured anyway (and reads 0 fps until a frame comes).
CONNECT_S = 60
FIRST_FRAME_S = 20


def run(scenario, variant, seconds, tmp, profiles):
    link = Link()
    try:
        schedule = []
        if scenario == "rate":
            link.rate(600)
            schedule = [(0, 600)]
        elif scenario == "step":
            link.rate(4000)
            schedule = [(0, 4000), (seconds / 3, 500), (2 * seconds / 3, 4000)]
        slog = open(os.path.join(tmp, "server.log"), "w+")
        start(link.r, SERVER, "--host", link.r_ip, "--port", "0", out=slog)
        url = None
        for _ in range(100):
            slog.seek(0)
            m = re.search(r"listening on (ws://\S+)", slog.read())
            if m:
                url = m.group(1)
                break
            time.sleep(0.1)
        if not url:
            raise RuntimeError("the room server did not start")
        if scenario.startswith("loss"):
            link.drop(int(scenario[4:]), int(re.search(r":(\d+)/", url).group(1)))
        rpath, spath = os.path.join(tmp, "recv.log"), os.path.join(tmp, "send.log")
        rkind, rprops, skind, sprops = VARIANTS[variant]
        page = url.replace("ws://", "http://").replace("/ws", "/r/net?name=")
        for ns, role, kind, props, path in ((link.r, "recv", rkind, rprops, rpath),
                                            (link.s, "send", skind, sprops, spath)):
            if kind == "letschat":
                start(ns, PARTY, role, url, "net", *props, out=open(path, "w"))
            else:
                # its profile goes in a directory removed with the run, a
                # short path: Chromium refuses to start when its singleton
                # socket's path is too long, as under a LETSCHAT_BENCH_KEEP
                # directory ("Socket path too long")
                start(ns, "env", "TMPDIR=" + profiles, "node", BROWSER, role, page + role,
                      out=open(path, "w"))
            if role == "recv":
                # The sender joins once the receiver is in the room, so it
                # is always the sender that offers (the second to join
                # does). Both joining within ~150 ms of each other, the
                # sender first, left one run of 16 with no offer at all
                # (no connection state on either side for 60 s): a race in
                # the parties' signalling, not the link's to measure.
                deadline = time.time() + CONNECT_S
                while time.time() < deadline:
                    slog.seek(0)
                    if "join room=net" in slog.read():
                        break
                    time.sleep(0.05)
                else:
                    raise RuntimeError("the receiver did not join the room within %d s:\n%s"
                                       % (CONNECT_S, tail(rpath)))
        # The call is up when both sides say "connected" (ICE and DTLS).
        deadline = time.time() + CONNECT_S
        up = None
        while up is None and time.time() < deadline:
            time.sleep(0.1)
            r, t = connected_at(rpath), connected_at(spath)
            up = max(r, t) if r and t else None
        if up is None:
            raise RuntimeError(
                "the call did not connect (ICE/DTLS) within %d s; receiver:\n%s"
                "sender:\n%s" % (CONNECT_S, tail(rpath), tail(spath)))
        # t0: the first decoded frame, or FIRST_FRAME_S after connecting
        # if none comes (then the run is measured from there: 0 fps)
        t0 = None
        while t0 is None and time.time() < up / 1e6 + FIRST_FRAME_S:
            time.sleep(0.1)
            t0 = first(rpath, "recv", 2)
        t0 = t0 or int(time.time() * 1e6)
        applied = schedule[:1]
        for at, kbit in schedule[1:]:
            time.sleep(max(0, t0 / 1e6 + at - time.time()))
            link.rate(kbit)
            applied.append((round(time.time() - t0 / 1e6, 2), kbit))
        time.sleep(max(0, t0 / 1e6 + seconds - time.time()))
    finally:
        for p in list(LIVE):
            if isinstance(p, subprocess.Popen):
                stop(p)
        counts = link.counters()
        link.close()
    res = analyse(scenario, seconds, t0, applied, tmp)
    res.update(path_check(scenario, res, counts))
    res["connect_to_first_frame_s"] = (round((first(rpath, "recv", 2) - up) / 1e6, 2)
                                       if first(rpath, "recv", 2) else None)
    return res


def analyse(scenario, seconds, t0, schedule, tmp):
    end = t0 + seconds * 1e6
    sent, recv, sstats, rstats = {}, [], [], []
    browser_send, browser_recv = [], None
    pairs = {"send": [], "recv": []}
    for side in pairs:
        for line in open(os.path.join(tmp, side + ".log")):
            p = line.split()
            if p and p[0] == "pair" and len(p) == 7:
                # [t, local type, remote type, protocol, local, remote]
                pairs[side].append([round((int(p[1]) - t0) / 1e6, 2)] + p[2:])
    for line in open(os.path.join(tmp, "send.log")):
        p = line.split(" ", 2)
        if p[0] == "sent":
            sent[int(p[1])] = int(p[2])
        elif p[0] == "stats":
            t = int(p[1])
            sv = sub(p[2], "send-video")
            sstats.append(((t - t0) / 1e6, field(sv, "bitrate") or 0,
                           field(p[2], "target-bitrate") or 0))
        elif p[0] == "send":  # Chromium: bitrate, target, available, ...
            v = p[2].split()
            num = lambda x: float(x) if x not in ("Infinity", "NaN") else 0
            sstats.append(((int(p[1]) - t0) / 1e6, num(v[0]), num(v[1])))
            browser_send.append([round((int(p[1]) - t0) / 1e6, 2), num(v[2]),
                                 num(v[3]), num(v[4]), num(v[5]), v[6]])
    for line in open(os.path.join(tmp, "recv.log")):
        p = line.split(" ", 2)
        if p[0] == "recv" and t0 <= int(p[2]) <= end:
            recv.append((int(p[1]), int(p[2])))
        elif p[0] == "rstats":  # Chromium's getStats, the latest kept
            browser_recv = json.loads(p[2])
        elif p[0] == "stats":
            rv = sub(p[2], "receive-video")
            rstats.append(((int(p[1]) - t0) / 1e6, field(rv, "retransmitted-packets") or 0,
                           field(rv, "nacks") or 0, field(rv, "plis") or 0))
    times = [t for _, t in recv]
    g2g = sorted((t - sent[n]) / 1000 for n, t in recv if n >= 0 and n in sent)
    gaps = [b - a for a, b in zip([t0] + times, times + [end])]
    freezes = sum(1 for g in gaps if g > 200000)
    per_s = [0] * int(seconds)
    for t in times:
        i = int((t - t0) / 1e6)
        if 0 <= i < len(per_s):
            per_s[i] += 1
    res = {
        "seconds": seconds,
        "frames": len(times),
        "fps": round(len(times) / seconds, 1),
        "g2g_p50_ms": round(g2g[len(g2g) // 2], 1) if g2g else None,
        "g2g_p95_ms": round(g2g[int(len(g2g) * 0.95)], 1) if g2g else None,
        "readable_frames": len(g2g),
        "freezes_per_min": round(freezes * 60 / seconds, 1),
        "longest_gap_ms": round(max(gaps) / 1000) if gaps else None,
        # time spent frozen: a run that never decodes is one 60 s freeze
        "frozen_s": round(sum(g for g in gaps if g > 200000) / 1e6, 1),
        "fps_per_second": per_s,
        "send": [[round(t, 2), b, tg] for t, b, tg in sstats if 0 <= t <= seconds],
        "receiver_retransmitted": rstats[-1][1] if rstats else 0,
        "receiver_nacks": rstats[-1][2] if rstats else 0,
        "receiver_plis": rstats[-1][3] if rstats else 0,
        "link": schedule,
        # the selected candidate pairs each side saw, as they changed
        "pairs": pairs,
    }
    if browser_send:
        # [t, availableOutgoingBitrate, width, height, fps, qualityLimitationReason]
        res["chromium_send"] = [x for x in browser_send if 0 <= x[0] <= seconds]
    if browser_recv:
        res["chromium_receiver_stats"] = browser_recv
    if scenario == "step":
        res.update(step_times(res))
    return res


def path_text(pairs):
    """The sender's candidate pair(s) in a run: "host/prflx tcp", pairs
    it changed between joined by " -> ", the receiver's if the sender
    printed none (types: the sender's side first)."""
    seen = pairs.get("send") or [[t, r, l, pr, ra, la] for t, l, r, pr, la, ra in
                                 pairs.get("recv", [])]
    out = []
    for _, local, remote, protocol, _, _ in seen:
        text = "%s/%s %s" % (local, remote, protocol)
        if not out or out[-1] != text:
            out.append(text)
    return " -> ".join(out) or None


# A loss scenario's rule must have seen at least this many packets of the
# call's transport for the run to count as one through the lossy path (a
# call over a transport the rule missed: none), and dropped about the share
# set: no fewer than 4 standard deviations under it (a binomial draw falls
# there about once in 30,000 runs; a 60 s call sends thousands of packets,
# enough to tell a rule that drops from one that does not).
MIN_SHAPED_PACKETS = 100


def path_check(scenario, r, counts):
    """Which path the call took, and whether it is the shaped one: a run
    that is not is flagged ("path_problem"), never counted beside the
    others. Every path between the namespaces crosses the veth, whose
    sending side is rate-limited (tbf: every protocol), so for the rate
    and the step a known pair is enough; for a loss scenario the loss
    rule's own counters must show the call's transport (udp or tcp) went
    through it and lost about the share set."""
    pairs = r.get("pairs", {})
    out = {"path": path_text(pairs), "path_problem": None}
    protocols = sorted({p[3] for side in pairs.values() for p in side})
    if not protocols:
        out["path_problem"] = "no candidate pair seen"
        return out
    if not scenario.startswith("loss"):
        return out
    percent = int(scenario[4:])
    out["loss_counted"] = {}
    for proto in protocols:
        seen, dropped = counts.get(proto + "-seen", 0), counts.get(proto + "-dropped", 0)
        share = round(100.0 * dropped / seen, 1) if seen else None
        out["loss_counted"][proto] = {"packets": seen, "dropped": dropped,
                                      "dropped_percent": share}
        p = percent / 100.0
        if seen < MIN_SHAPED_PACKETS:
            out["path_problem"] = "%s: %d packets through the loss rule" % (proto, seen)
        elif dropped < seen * p - 4 * (seen * p * (1 - p)) ** 0.5:
            out["path_problem"] = "%s: %.1f %% dropped, not %d %%" % (proto, share, percent)
    return out


def smoothed(send, window=1.0):
    """(t, mean bitrate, mean target) over the @window s before each sample:
    one 250 ms sample says little (a keyframe, a stats interval cut short)."""
    out = []
    for i, (t, _, _) in enumerate(send):
        xs = [(b, tg) for u, b, tg in send[:i + 1] if u > t - window]
        out.append((t, sum(b for b, _ in xs) / len(xs), sum(tg for _, tg in xs) / len(xs)))
    return out


def step_times(r):
    """After the drop: how long until the video sent (1 s mean) is under the
    link; after the rise: until it is >= 70 % of it (and the target, for
    letschat). None: never within the phase."""
    link, send = r["link"], smoothed(r["send"])
    drop, rise = link[1][0], link[2][0]
    low, high = link[1][1] * 1000, link[2][1] * 1000
    under = [t for t, b, _ in send if drop < t < rise and b < low]
    over = [t for t, b, _ in send if t > rise and b >= 0.7 * high]
    otg = [t for t, _, tg in send if t > rise and tg >= 0.7 * high]
    return {"under_link_after_drop_s": round(under[0] - drop, 2) if under else None,
            "70pct_after_rise_s": round(over[0] - rise, 2) if over else None,
            "target_70pct_after_rise_s": round(otg[0] - rise, 2) if otg else None}


def plot(scenario, results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    colours = {"letschat": "tab:blue", "none": "tab:orange", "chromium": "tab:green",
               "chromium-to-letschat": "tab:red"}
    for variant, r in results.items():
        if "error" in r:
            continue
        c = colours.get(variant)
        send = smoothed(r["send"])
        # a run that missed the shaped path is drawn, dotted, and says so
        style = ":" if r.get("path_problem") else "-"
        flag = " (NOT the shaped path)" if r.get("path_problem") else ""
        ax1.plot([x[0] for x in send], [x[1] / 1000 for x in send], style,
                 color=c, label="%s: sent (1 s mean)%s" % (variant, flag))
        if variant == "letschat":
            ax1.plot([x[0] for x in send], [x[2] / 1000 for x in send],
                     "--", color=c, label="letschat: target bitrate")
        if variant == "chromium":
            cs = r.get("chromium_send", [])
            ax1.plot([x[0] for x in cs], [max(x[1], 1) / 1000 for x in cs], "--", color=c,
                     label="chromium: availableOutgoingBitrate")
        ax2.plot([i + 0.5 for i in range(len(r["fps_per_second"]))], r["fps_per_second"],
                 style, color=c, label=variant + flag)
    link = next((r["link"] for r in results.values() if r.get("link")), [])
    if link:
        secs = next(r["seconds"] for r in results.values() if "seconds" in r)
        xs, ys = [], []
        for i, (at, kbit) in enumerate(link):
            nxt = link[i + 1][0] if i + 1 < len(link) else secs
            xs += [at, nxt]
            ys += [kbit, kbit]
        ax1.plot(xs, ys, "k:", linewidth=2, label="link (tbf)")
    elif scenario.startswith("loss"):
        ax1.set_title("%s %% of the sender's UDP and TCP dropped on arrival, no rate limit"
                      % scenario[4:], fontsize=9)
    ax1.set_ylabel("video sent, kbit/s (payload)")
    ax1.set_yscale("log")
    ax1.set_ylim(50, 30000)
    ax1.legend(fontsize=7, loc="lower right")
    ax2.set_ylabel("frames received per second")
    ax2.set_xlabel("s since the first frame received")
    ax2.legend(fontsize=7, loc="lower right")
    fig.suptitle("1280x720@30 through a shaped veth: %s" % scenario)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


# The targets, per scenario: (figure, comparison, value, text)
TARGETS = {
    "rate": [("fps", ">=", 24), ("g2g_p95_ms", "<=", 300), ("freezes_per_min", "<=", 1)],
    "step": [("under_link_after_drop_s", "<=", 2), ("70pct_after_rise_s", "<=", 10)],
    "loss3": [("fps", ">=", 28), ("freezes_per_min", "<=", 1)],
    "loss10": [("fps", ">=", 20)],
}
HIGHER = {"fps"}  # higher is better; for the others lower is
SHORT = {"fps": "fps", "g2g_p95_ms": "g2g p95", "freezes_per_min": "freezes",
         "under_link_after_drop_s": "under link", "70pct_after_rise_s": "70 % after rise"}


def meets(value, op, limit):
    if value is None:
        return False
    return value >= limit if op == ">=" else value <= limit


def none_never(v):
    return "never" if v is None else v


def phase_means(r):
    """Mean video bitrate sent (kbit/s) in each phase of the link's rate:
    "sent/link" pairs, or the whole run's mean where the rate is not set."""
    link = r.get("link") or [(0, None)]
    out = []
    for i, (at, kbit) in enumerate(link):
        nxt = link[i + 1][0] if i + 1 < len(link) else r["seconds"]
        xs = [b for t, b, _ in r["send"] if at <= t < nxt]
        mean = round(sum(xs) / len(xs) / 1000) if xs else None
        out.append("%s/%s" % (mean, kbit) if kbit else "%s" % mean)
    return " ".join(out)


def summary(report):
    """A markdown table: each figure beside its target and Chromium's."""
    names = {"rate": "600 kbit/s", "step": "step 4M -> 500k -> 4M", "loss3": "3 % loss",
             "loss10": "10 % loss"}
    lines = ["| scenario | variant | fps | g2g p50 / p95 ms | freezes/min | longest gap ms "
             "| under link after drop s | >= 70 % after rise s | sent kbit/s (/link) "
             "| target | vs Chromium | path (sender's pair) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for scenario, results in report["scenarios"].items():
        anchor = results.get("chromium", {})
        if anchor.get("path_problem"):
            anchor = {}  # not a measurement of this link: nothing to compare with
        for variant, r in results.items():
            if "error" in r:
                lines.append("| %s | %s | error: %s | | | | | | | | | |" % (
                    names.get(scenario, scenario), variant, r["error"].splitlines()[0]))
                continue
            path = path_cell(r)
            if r.get("path_problem"):
                # measured, but not through the shaped path: shown, never
                # set beside a target or Chromium (nor to be averaged)
                lines.append("| %s | %s | %s | | %s | | | | | NOT THE SHAPED PATH: not "
                             "counted | | %s |" % (names.get(scenario, scenario), variant,
                                                    r["fps"], r["freezes_per_min"], path))
                continue
            g2g = ("%s / %s" % (r["g2g_p50_ms"], r["g2g_p95_ms"])
                   if r["g2g_p50_ms"] is not None else "n/a")
            met, worse = [], []
            for key, op, limit in TARGETS.get(scenario, []):
                if key.startswith("g2g") and r.get(key) is None:
                    continue  # n/a: no frame numbers through a browser
                met.append("%s %s" % (SHORT[key], "met" if meets(r.get(key), op, limit)
                                      else "MISSED"))
            # beside Chromium <-> Chromium: received fps, freezes and the
            # step's times (a time never reached is worse than any)
            for key in ["fps", "freezes_per_min"] + [
                    k for k, _, _ in TARGETS.get(scenario, []) if k.endswith("_s")]:
                a, v = anchor.get(key), r.get(key)
                if variant == "chromium" or not anchor or "error" in anchor:
                    continue
                if v is None and a is not None:
                    worse.append(SHORT[key])
                elif v is not None and a is not None and (
                        (v < a * 0.95) if key in HIGHER else (v > a * 1.05 and v - a > 0.5)):
                    worse.append(SHORT[key])
            step = scenario == "step"
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                names.get(scenario, scenario), variant, r["fps"], g2g, r["freezes_per_min"],
                r["longest_gap_ms"], none_never(r.get("under_link_after_drop_s")) if step else "",
                none_never(r.get("70pct_after_rise_s")) if step else "", phase_means(r),
                "; ".join(met),
                "" if variant == "chromium" or not anchor or "error" in anchor else
                ("worse: " + ", ".join(worse) if worse else "no worse"), path))
    return "\n".join(lines)


def path_cell(r):
    """The table's path: the pair, for a loss scenario the share of its
    transport's packets the rule dropped, and what is wrong if it is not
    the shaped path."""
    text = r.get("path") or "unknown"
    lost = ", ".join("%s %s %% lost" % (proto, c["dropped_percent"])
                     for proto, c in sorted(r.get("loss_counted", {}).items()))
    if lost:
        text += " (%s)" % lost
    if r.get("path_problem"):
        text += " **not shaped: %s**" % r["path_problem"]
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("LETSCHAT_BENCH_NET_SECONDS", 60)))
    ap.add_argument("--scenarios", default="rate,step,loss3,loss10")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default=None)
    ap.add_argument("--from", dest="from_json", default=None,
                    help="draw the PNGs and print the table of an earlier results JSON")
    a = ap.parse_args()
    if a.from_json:
        report = json.load(open(a.from_json))
        for scenario, results in report["scenarios"].items():
            for r in results.values():
                if scenario == "step" and "error" not in r:
                    r.update(step_times(r))
            plot(scenario, results, a.from_json.replace(".json", "-%s.png" % scenario))
        report["table"] = summary(report)
        with open(a.from_json, "w") as f:
            json.dump(report, f, indent=1)
        print(report["table"])
        return 0
    if os.geteuid() != 0:
        print("bench/network.py: network namespaces need root", file=sys.stderr)
        return 77
    atexit.register(cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    remove_stale()
    os.environ.setdefault("GST_PLUGIN_PATH", os.path.join(BUILD, "gst", "letschat"))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = a.out or os.path.join(ROOT, "bench", "results", "network-%s.json" % stamp)
    report = {"when": stamp, "host": os.uname().nodename, "scenarios": {},
              "load_average_at_start": os.getloadavg(),
              "commit": sh("git", "-C", ROOT, "describe", "--always", "--dirty",
                           check=False).stdout.strip()}
    camera_dir = tempfile.mkdtemp(prefix="letschat-net-camera-")
    atexit.register(lambda: subprocess.run(["rm", "-rf", camera_dir]))
    if any(VARIANTS[v][2] == "chromium" for v in a.variants.split(",")):
        # Chromium's camera shows what letschat's sender encodes: snow
        # (2 s looped: noise does not compress across a loop anyway)
        camera = os.path.join(camera_dir, "snow.y4m")
        sh("gst-launch-1.0", "-q", "videotestsrc", "pattern=snow", "num-buffers=60", "!",
           "video/x-raw,format=I420,width=1280,height=720,framerate=30/1", "!",
           "y4menc", "!", "filesink", "location=" + camera)
        os.environ["LETSCHAT_BENCH_CAMERA"] = camera
    for scenario in a.scenarios.split(","):
        results = {}
        for variant in a.variants.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                profiles = tmp
                # LETSCHAT_BENCH_KEEP=DIR keeps each run's logs there
                keep = os.environ.get("LETSCHAT_BENCH_KEEP")
                if keep:
                    tmp = os.path.join(keep, scenario + "-" + variant)
                    os.makedirs(tmp, exist_ok=True)
                try:
                    results[variant] = run(scenario, variant, a.seconds, tmp, profiles)
                except Exception as e:
                    results[variant] = {"error": str(e)}
            r = results[variant]
            print("%-6s %-20s " % (scenario, variant) + (
                "error: %s" % r["error"] if "error" in r else
                "fps %5.1f  g2g p50 %s p95 %s ms  freezes/min %4.1f  rtx %d%s  path %s" % (
                    r["fps"], r["g2g_p50_ms"], r["g2g_p95_ms"], r["freezes_per_min"],
                    r["receiver_retransmitted"],
                    "  under link %s s, 70%% %s s (target %s s)" % (
                        r.get("under_link_after_drop_s"), r.get("70pct_after_rise_s"),
                        r.get("target_70pct_after_rise_s")) if scenario == "step" else "",
                    path_cell(r))),
                flush=True)
        report["scenarios"][scenario] = results
        plot(scenario, results, out.replace(".json", "-%s.png" % scenario))
    report["load_average_at_end"] = os.getloadavg()
    report["table"] = summary(report)
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
    print(report["table"])
    print("results:", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
