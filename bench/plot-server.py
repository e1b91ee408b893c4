#!/usr/bin/python3
"""Draws a room-server results JSON (bench/server.sh) as one PNG.

usage: plot-server.py RESULTS_JSON OUT_PNG

Four panels, letschat-server beside the Node `ws` baseline in each, with the
targets of issue 6: the ramp's RSS and probe latency against sockets held,
relay latency at 10,000 messages/s, and throughput at saturation. A --quick
run (fewer levels) and a run with one server (--only) draw what they have.
"""
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

# the same colours as bench/plot.py: letschat blue, the baseline orange
COLORS = {"letschat": "#1f77b4", "node": "#ff7f0e"}
LABELS = {"letschat": "letschat-server", "node": "Node ws baseline"}

TARGET_SOCKETS = 18000
TARGET_RSS_MB = 90
TARGET_RELAY_P99_MS = 5
TARGET_THROUGHPUT_X = 2


def run(res, server, mode):
    """The loadgen run's JSON, or {} when the server was not run or the run
    failed (server.sh then stores {"failed": why})."""
    s = res.get(server)
    # results from before node_version existed hold the version in "node"
    if not isinstance(s, dict):
        return {}
    r = s.get(mode)
    return r if isinstance(r, dict) and "failed" not in r else {}


def get(d, *keys):
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def msgs_per_core_s(sat):
    """Messages the server handles per second of its own CPU time: what it
    would do on a core of its own, since the generator shares the machine."""
    n = (sat.get("messages_in_per_s") or 0) * (sat.get("duration_s") or 0)
    cpu = sat.get("server_cpu_s")
    return n / cpu if n and cpu else None


def num(v):
    return format(v, ",") if isinstance(v, (int, float)) else "?"


def when(path):
    m = re.search(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)\d\dZ", os.path.basename(path))
    return "%s-%s-%s %s:%s UTC" % m.groups() if m else os.path.basename(path)


def legend(a, **kw):
    # a panel with no data has nothing to list
    if a.get_legend_handles_labels()[0]:
        a.legend(**kw)


def errors(runs):
    """A title suffix naming the runs that saw errors: their figures are then
    not the server's alone (e.g. its rate limit answering)."""
    bad = ["%s: %d errors" % (LABELS[s], r["errors"]) for s, r in runs.items()
           if r.get("errors")]
    return "\n(%s)" % ", ".join(bad) if bad else ""


def no_data(a, what):
    a.text(0.5, 0.5, "no %s results" % what, ha="center", va="center",
           transform=a.transAxes, color="grey")


def plot_ramp_rss(a, res, servers):
    xmax = 0
    for s in servers:
        ramp = run(res, s, "ramp")
        levels = ramp.get("levels") or []
        if not levels:
            continue
        x = [0] + [lv["sockets"] for lv in levels]
        y = [(ramp.get("server_rss_kb_idle") or 0) / 1024] + \
            [lv["server_rss_kb"] / 1024 for lv in levels]
        xmax = max(xmax, x[-1])
        label = "%s: %.0f MB at %s sockets, %.2f KB/socket\n(stopped: %s)" % (
            LABELS[s], y[-1], format(x[-1], ","), ramp.get("rss_per_socket_kb") or 0,
            ramp.get("stopped_because", "?"))
        a.plot(x, y, "o-", color=COLORS[s], label=label)
    if not xmax:
        no_data(a, "ramp")
    # the target as a budget line through the origin; a --quick run stops far
    # short of 18,000 sockets, so its line ends where its data does
    end = TARGET_SOCKETS if xmax >= TARGET_SOCKETS / 2 or not xmax else xmax
    a.plot([0, end], [0, TARGET_RSS_MB * end / TARGET_SOCKETS], "g--", lw=1,
           label="target: %d MB at %s sockets (5 KB/socket)"
           % (TARGET_RSS_MB, format(TARGET_SOCKETS, ",")))
    if end == TARGET_SOCKETS:
        a.plot([TARGET_SOCKETS], [TARGET_RSS_MB], "g*", ms=12)
    a.set_xlabel("sockets held (2 per room; 0 = idle server)")
    a.set_ylabel("server RSS, MB")
    a.set_title("Ramp: server memory against sockets held")
    a.set_xlim(left=0)
    a.set_ylim(bottom=0)
    a.grid(alpha=0.3)
    legend(a, fontsize=8, loc="upper left")


def plot_ramp_latency(a, res, servers):
    drawn = False
    for s in servers:
        ramp = run(res, s, "ramp")
        levels = [lv for lv in ramp.get("levels") or []
                  if get(lv, "probe_latency", "p50_ms") is not None]
        if not levels:
            continue
        x = [lv["sockets"] for lv in levels]
        for q, style in (("p99", "o-"), ("p50", "s--")):
            a.plot(x, [lv["probe_latency"][q + "_ms"] for lv in levels], style,
                   color=COLORS[s], label="%s %s" % (LABELS[s], q))
        drawn = True
    if not drawn:
        no_data(a, "ramp")
    a.set_yscale("log")
    # plain numbers: a quick run's narrow range otherwise reads "2 x 10^0"
    a.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: "%g" % v))
    a.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False,
                                                    minor_thresholds=(1, 0.5)))
    a.set_xlabel("sockets held")
    a.set_ylabel("probe latency, ms (log)")
    rate = next((run(res, s, "ramp").get("probe_rate") for s in servers
                 if run(res, s, "ramp").get("probe_rate")), None)
    a.set_title("Ramp: relay latency of a %s msg/s probe at each level"
                % (rate or "fixed-rate"))
    a.set_xlim(left=0)
    a.grid(alpha=0.3, which="both")
    legend(a, fontsize=8, loc="upper left")


def bars(a, groups, servers, values, fmt):
    """Grouped bars: one group per entry of @groups, one bar per server;
    values[s][i] may be None. Returns {(s, i): bar}."""
    width = 0.8 / max(len(servers), 1)
    out = {}
    for j, s in enumerate(servers):
        for i in range(len(groups)):
            v = values[s][i]
            if v is None:
                continue
            x = i + (j - (len(servers) - 1) / 2) * width
            b = a.bar(x, v, width * 0.9, color=COLORS[s],
                      label=LABELS[s] if not any(k[0] == s for k in out) else None)[0]
            a.text(x, v, fmt % v, ha="center", va="bottom", fontsize=8)
            out[(s, i)] = b
    a.set_xticks(range(len(groups)), groups)
    a.set_xlim(-0.5, len(groups) - 0.5)
    return out


def plot_relay(a, res, servers):
    lat = {s: run(res, s, "latency") for s in servers}
    values = {s: [get(lat[s], "relay_latency", q) for q in ("p50_ms", "p99_ms")]
              for s in servers}
    if not any(v is not None for s in servers for v in values[s]):
        no_data(a, "latency")
    bars(a, ["p50", "p99"], servers, values, "%.2f")
    a.axhline(TARGET_RELAY_P99_MS, color="green", ls="--", lw=1,
              label="target p99 <= %d ms" % TARGET_RELAY_P99_MS)
    rate = next((lat[s].get("rate_asked") for s in servers
                 if lat[s].get("rate_asked")), 10000)
    rooms = next((lat[s].get("rooms") for s in servers if lat[s].get("rooms")), "?")
    a.set_ylabel("relay latency, ms")
    a.set_title("Relay latency at %s msg/s, %s rooms cycling join..leave%s"
                % (num(rate), num(rooms), errors(lat)))
    a.set_ylim(0, max([TARGET_RELAY_P99_MS] + [v for s in servers for v in values[s]
                                               if v is not None]) * 1.2)
    a.grid(alpha=0.3, axis="y")
    legend(a, fontsize=8, loc="upper left")


def plot_saturation(a, res, servers):
    sat = {s: run(res, s, "saturate") for s in servers}
    values = {s: [sat[s].get("messages_in_per_s"), msgs_per_core_s(sat[s])]
              for s in servers}
    if not any(v is not None for s in servers for v in values[s]):
        no_data(a, "saturation")
    drawn = bars(a, ["messages/s in\n(generator shares the 2 cores)",
                     "messages per server CPU second\n(= msg/s on a core of its own)"],
                 servers, values, "%.0f")
    # 2x the baseline, drawn over the letschat bar it applies to
    labelled = False
    for i in range(2):
        lc, node = drawn.get(("letschat", i)), values.get("node", [None, None])[i]
        if lc is None or not node:
            continue
        a.hlines(TARGET_THROUGHPUT_X * node, lc.get_x(), lc.get_x() + lc.get_width(),
                 color="green", ls="--", lw=1.5,
                 label=None if labelled else "target: %dx the Node baseline"
                 % TARGET_THROUGHPUT_X)
        a.text(lc.get_x() + lc.get_width() / 2, lc.get_height() / 2,
               "%.2fx\nNode" % (values["letschat"][i] / node), ha="center",
               va="center", color="white", fontsize=10, fontweight="bold")
        labelled = True
    tops = [v for s in servers for v in values[s] if v is not None]
    tops += [TARGET_THROUGHPUT_X * v for v in values.get("node", []) if v]
    # headroom above the target lines for the legend
    a.set_ylim(0, max(tops or [1]) * 1.3)
    a.set_ylabel("messages per second")
    rooms = next((sat[s].get("rooms") for s in servers if sat[s].get("rooms")), "?")
    a.set_title("Saturation: %s rooms as fast as the server answers%s"
                % (num(rooms), errors(sat)))
    a.tick_params(axis="x", labelsize=8)
    a.grid(alpha=0.3, axis="y")
    legend(a, fontsize=8, loc="upper center", ncol=3)


def main():
    with open(sys.argv[1]) as f:
        res = json.load(f)
    servers = [s for s in ("letschat", "node") if isinstance(res.get(s), dict)]
    m = res.get("machine", {})

    fig, ax = plt.subplots(2, 2, figsize=(14, 10))
    fig.suptitle("Room server: %s under the same load generator (bench/loadgen), "
                 "loopback%s\n%s, %s, %s cores, kernel %s, %s GB"
                 % (" vs ".join(LABELS[s] for s in servers) or "no server",
                    ", QUICK run (fewer levels, shorter)" if res.get("quick") else "",
                    when(sys.argv[1]), m.get("cpu", "?"), m.get("cores", "?"),
                    m.get("kernel", "?"), m.get("memory_gb", "?")), fontsize=11)
    plot_ramp_rss(ax[0][0], res, servers)
    plot_ramp_latency(ax[0][1], res, servers)
    plot_relay(ax[1][0], res, servers)
    plot_saturation(ax[1][1], res, servers)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
