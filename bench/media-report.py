#!/usr/bin/python3
"""Turns bench/media.sh's runs into the "media" section of the results JSON
and prints each figure beside its baseline, with the ratio and the target.

usage: media-report.py RUNS_DIR OUT_JSON --calls N --seconds S
"""
import argparse
import datetime
import glob
import json
import os
import platform
import socket
import subprocess


def pct(values, p):
    """Percentile by linear interpolation between closest ranks."""
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return round(v[lo] + (v[hi] - v[lo]) * (k - lo), 2)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    gst = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True,
                         text=True).stdout.splitlines()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    # The plugin measured is the build of the work tree: say if it differs
    # from the commit.
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "gst", "ext"],
                           capture_output=True, text=True).stdout.strip()
    return {"host": socket.gethostname(), "cpu": model, "cores": os.cpu_count(),
            "kernel": platform.release(),
            "gstreamer": gst[1] if len(gst) > 1 else "",
            "commit": commit + ("+uncommitted" if dirty else "")}


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs")
    ap.add_argument("out")
    ap.add_argument("--calls", type=int)
    ap.add_argument("--seconds", type=int)
    args = ap.parse_args()

    media = {"date": datetime.datetime.now(datetime.timezone.utc)
             .strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine(),
             "video": "1280x720@30 VP8, videotestsrc pattern=ball, loopback",
             "calls": args.calls, "seconds": args.seconds}

    dtls = [d["dtls_certificate_ms"] for d in
            (load(p) for p in glob.glob(os.path.join(args.runs, "dtls-*.json")))
            if d and d.get("dtls_certificate_ms", -1) >= 0]
    media["dtls_certificate_ms"] = {"samples": dtls, "p50": pct(dtls, 50),
                                    "max": max(dtls) if dtls else None}

    setup = {}
    names = ["offer set", "answer set", "ICE connected", "DTLS connected",
             "first RTP out of webrtcbin", "first decoded frame"]
    for impl in ("letschat", "baseline"):
        runs = [load(p) for p in sorted(glob.glob(
            os.path.join(args.runs, "setup-%s-*.json" % impl)))]
        ok = [r for r in runs if r and r.get("ok")]
        calls = [max(r["setup_ms"]) for r in ok]
        entry = {"calls_ms": calls, "failed": len(runs) - len(ok),
                 "p50": pct(calls, 50), "p95": pct(calls, 95)}
        # per milestone, the median over calls of the later party's time
        if ok and "milestones_ms" in ok[0]:
            entry["milestones_p50_ms"] = {
                n: pct([max(r["milestones_ms"][0][i], r["milestones_ms"][1][i])
                        for r in ok], 50) for i, n in enumerate(names)}
        if impl == "letschat":
            el = [max(r["element_first_frame_ms"]) for r in ok
                  if min(r["element_first_frame_ms"]) >= 0]
            entry["element_ms_since_peer_joined_p50"] = pct(el, 50)
        setup[impl] = entry
    setup["ratio_p50"] = ratio(setup["letschat"]["p50"], setup["baseline"]["p50"])
    setup["ratio_p95"] = ratio(setup["letschat"]["p95"], setup["baseline"]["p95"])
    media["call_setup"] = setup

    g2g, cpu = {}, {}
    for name in ("letschat", "baseline", "baseline-same-encoder"):
        r = load(os.path.join(args.runs, "media-%s.json" % name))
        if not r or not r.get("ok"):
            g2g[name] = cpu[name] = {"failed": True}
            continue
        g2g[name] = {"encoder": r["encoder"], "frames": len(r["decoded_ms"]),
                     "unreadable": r["frames_unreadable"],
                     "others_cpu_share": r.get("others_cpu_share")}
        for kind in ("decoded", "rendered"):
            s = r[kind + "_ms"]
            g2g[name][kind] = {"p50": pct(s, 50), "p95": pct(s, 95),
                               "p99": pct(s, 99),
                               "samples": [round(x, 1) for x in s]}
        cpu[name] = {"encoder": r["encoder"], "cpu_s": r["cpu_s"],
                     "seconds": r["seconds"],
                     "cpu_s_per_min": round(r["cpu_s"] / r["seconds"] * 60, 2)}
    for p in ("p50", "p95", "p99"):
        g2g["ratio_decoded_" + p] = ratio(g2g["letschat"].get("decoded", {}).get(p),
                                          g2g["baseline"].get("decoded", {}).get(p))
    cpu["ratio_same_encoder"] = ratio(cpu["letschat"].get("cpu_s_per_min"),
                                      cpu["baseline-same-encoder"].get("cpu_s_per_min"))
    media["glass_to_glass"] = g2g
    media["cpu"] = cpu

    ls, bl = setup["letschat"], setup["baseline"]
    lg = g2g["letschat"].get("decoded", {})
    media["targets"] = {
        "call_setup_p50_le_150ms": ls["p50"] is not None and ls["p50"] <= 150,
        "g2g_p50_le_50ms": lg.get("p50") is not None and lg["p50"] <= 50,
        "g2g_p99_le_100ms": lg.get("p99") is not None and lg["p99"] <= 100,
        "cpu_le_105pct_of_baseline": cpu["ratio_same_encoder"] is not None
        and cpu["ratio_same_encoder"] <= 1.05,
    }

    results = load(args.out) or {}
    results["media"] = media
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")

    def row(what, a, b, target):
        r = ratio(a, b)
        print("%-34s %10s %10s %7s  %s" % (what, a, b, "%.2fx" % r if r else "-",
                                          target))
    m = media["machine"]
    print("\nmedia benchmark on %s (%s, %d cores), GStreamer %s"
          % (m["host"], m["cpu"], m["cores"], m["gstreamer"]))
    print("%-34s %10s %10s %7s  %s" % ("", "letschat", "baseline", "ratio",
                                      "target (letschat)"))
    row("call setup p50 (ms, %d calls)" % args.calls, ls["p50"], bl["p50"], "<= 150")
    row("call setup p95 (ms)", ls["p95"], bl["p95"], "")
    for p, t in (("p50", "<= 50"), ("p95", ""), ("p99", "<= 100")):
        row("glass-to-glass decoded %s (ms)" % p, lg.get(p),
            g2g["baseline"].get("decoded", {}).get(p), t)
    for p in ("p50", "p99"):
        row("  displayed (sync=true) %s (ms)" % p,
            g2g["letschat"].get("rendered", {}).get(p),
            g2g["baseline"].get("rendered", {}).get(p), "")
    row("CPU s per min, same encoder", cpu["letschat"].get("cpu_s_per_min"),
        cpu["baseline-same-encoder"].get("cpu_s_per_min"), "<= 1.05x")
    row("CPU s per min, sendrecv's vp8enc", cpu["letschat"].get("cpu_s_per_min"),
        cpu["baseline"].get("cpu_s_per_min"), "")
    print("other processes' share of the cores during the runs: %s" % ", ".join(
        "%s %s" % (n, g2g[n].get("others_cpu_share")) for n in
        ("letschat", "baseline", "baseline-same-encoder")))
    print("DTLS certificate (first dtlsdec of a process): p50 %s ms, max %s ms"
          % (media["dtls_certificate_ms"]["p50"], media["dtls_certificate_ms"]["max"]))
    for impl in ("letschat", "baseline"):
        ms = setup[impl].get("milestones_p50_ms", {})
        print("%-9s setup milestones p50 (ms after join): %s" % (impl, ", ".join(
            "%s %s" % (k, v) for k, v in ms.items())))
    print("targets: %s" % ", ".join("%s %s" % (k, "met" if v else "MISSED")
                                    for k, v in media["targets"].items()))
    print("results: %s" % args.out)


if __name__ == "__main__":
    main()
