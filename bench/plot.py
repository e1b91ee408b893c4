#!/usr/bin/python3
"""Draws the media half of a results JSON (bench/media.sh) as one PNG.

usage: plot.py RESULTS_JSON OUT_PNG
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LC, BL, BL2 = "#1f77b4", "#ff7f0e", "#c9a36b"


def main():
    with open(sys.argv[1]) as f:
        media = json.load(f)["media"]
    setup, g2g, cpu = media["call_setup"], media["glass_to_glass"], media["cpu"]
    m = media["machine"]

    fig, ax = plt.subplots(2, 2, figsize=(13, 9))
    fig.suptitle("letschat vs webrtc-sendrecv baseline, 1280x720@30 VP8 two-way call, "
                 "loopback\n%s, %s, %d cores, %s, %s, commit %s"
                 % (media["date"], m["cpu"], m["cores"], m["gstreamer"], m["host"],
                    m["commit"]), fontsize=10)

    # 1. call setup, every call
    a = ax[0][0]
    data = [setup["letschat"]["calls_ms"], setup["baseline"]["calls_ms"]]
    a.boxplot(data, labels=["letschat", "baseline"], vert=False, widths=0.5)
    for i, d in enumerate(data):
        a.scatter(d, [i + 1] * len(d), s=12, color=[LC, BL][i], zorder=3)
    a.axvline(150, color="green", ls="--", lw=1, label="target p50 <= 150 ms")
    a.set_xlabel("ms from the second party's join to the first decoded frame "
                 "(both parties)")
    a.set_title("Call setup, %d calls: p50 %s vs %s ms (%.2fx)" % (
        media["calls"], setup["letschat"]["p50"], setup["baseline"]["p50"],
        setup["ratio_p50"] or 0))
    a.legend(loc="lower right", fontsize=8)

    # 2. where call setup goes (median milestones)
    a = ax[0][1]
    for row, impl in enumerate(("baseline", "letschat")):
        ms = setup[impl].get("milestones_p50_ms", {})
        left = 0
        colors = ["#999999", "#bbbbbb", "#8c564b", "#e377c2", "#d62728", "#2ca02c"]
        labels = ["join -> offer set", "-> answer set", "-> ICE connected",
                  "-> DTLS connected", "-> first RTP out (jitter buffer)",
                  "-> first decoded frame"]
        for i, (name, t) in enumerate(ms.items()):
            if t is None or t < 0:
                continue
            a.barh(row, t - left, left=left, color=colors[i],
                   label=labels[i] if row == 0 else None)
            left = t
        a.text(left + 5, row, "%.0f ms" % left, va="center", fontsize=8)
    a.set_yticks([0, 1], ["baseline", "letschat"])
    a.set_ylim(-0.5, 2.6)
    a.set_xlim(0, max(setup[i].get("milestones_p50_ms", {}).get(
        "first decoded frame") or 0 for i in ("letschat", "baseline")) * 1.15 + 1)
    a.set_xlabel("ms after the join (median over calls, later party)")
    a.set_title("Where call setup goes")
    a.legend(fontsize=7, loc="upper right", ncol=2)

    # 3. glass-to-glass
    a = ax[1][0]
    series, labels, colors = [], [], []
    for name, color in (("letschat", LC), ("baseline", BL)):
        if g2g[name].get("failed"):
            continue
        for kind in ("decoded", "rendered"):
            series.append(g2g[name][kind]["samples"])
            labels.append("%s\n%s" % (name, "decoded" if kind == "decoded"
                                      else "displayed\n(sync=true)"))
            colors.append(color)
    bp = a.boxplot(series, labels=labels, whis=(1, 99), showfliers=False,
                   patch_artist=True, medianprops={"color": "black"})
    for patch, c in zip(bp["boxes"], colors):
        patch.set_facecolor(c)
        patch.set_alpha(0.5)
    a.axhline(50, color="green", ls="--", lw=1, label="target p50 <= 50 ms")
    a.axhline(100, color="red", ls=":", lw=1, label="target p99 <= 100 ms")
    a.set_ylabel("ms from capture to frame (whiskers: p1-p99)")
    lg, bg = g2g["letschat"].get("decoded", {}), g2g["baseline"].get("decoded", {})
    a.set_title("Glass-to-glass over %d s: decoded p50/p99 %s/%s vs %s/%s ms"
                % (media["seconds"], lg.get("p50"), lg.get("p99"), bg.get("p50"),
                   bg.get("p99")))
    a.tick_params(axis="x", labelsize=8)
    a.legend(fontsize=8)

    # 4. CPU
    a = ax[1][1]
    names = [("letschat", "letschat", LC),
             ("baseline-same-encoder", "baseline,\nletschat's vp8enc settings", BL),
             ("baseline", "baseline,\nsendrecv's vp8enc deadline=1", BL2)]
    vals = [cpu[n].get("cpu_s_per_min", 0) for n, _, _ in names]
    bars = a.bar([label for _, label, _ in names], vals,
                 color=[c for _, _, c in names])
    for b, v in zip(bars, vals):
        a.text(b.get_x() + b.get_width() / 2, v, "%.1f" % v, ha="center",
               va="bottom", fontsize=9)
    a.set_ylabel("CPU seconds per minute of call (both parties, one process)")
    a.set_title("CPU: %.2fx the baseline with the same encoder (target <= 1.05x)"
                % (cpu.get("ratio_same_encoder") or 0))
    a.tick_params(axis="x", labelsize=8)

    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
