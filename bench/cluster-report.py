#!/usr/bin/python3
"""The cluster benchmark's results (bench/cluster.sh): the loadgen runs'
JSON gathered into one file with the machine, the commit and the load
average, and a table of the cluster beside one node, with the targets.

    cluster-report.py WORK_DIR OUT.json QUICK N_NODES COMMIT ROUNDS SET...
    cluster-report.py --from RESULTS.json     (the table again)
"""
import datetime
import json
import os
import platform
import subprocess
import sys

if sys.argv[1] == "--from":
    out = sys.argv[2]
    res = json.load(open(out))
    n_nodes, commit = res["nodes"], res["commit"]
    sets = [s for s in ("one", "cluster") if s in res]
else:
    work, out, quick, n_nodes, commit, rounds = sys.argv[1:7]
    sets = sys.argv[7:]
    rounds = int(rounds)
    quick = quick == "1"


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def redis_version():
    try:
        return subprocess.run(["redis-server", "--version"], capture_output=True,
                              text=True).stdout.split()[2].removeprefix("v=")
    except (OSError, IndexError):
        return None


def gather():
    res = {"quick": quick, "date": datetime.datetime.now(datetime.timezone.utc)
           .strftime("%Y-%m-%d %H:%M UTC"), "commit": commit, "nodes": int(n_nodes),
           "redis_version": redis_version(),
           "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                       "kernel": platform.release(),
                       "memory_gb": round(os.sysconf("SC_PAGE_SIZE") *
                                          os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}}
    def load(name):
        try:
            run = json.load(open(f"{work}/{name}.json"))
        except (OSError, ValueError) as e:
            run = {"failed": str(e)}
        for when in ("before", "after"):
            try:
                run[f"load_average_{when}"] = open(f"{work}/{name}.load-{when}").read().split()
            except OSError:
                pass
        return run

    # the round with the median figure stands for the mode; all are kept
    key = {"latency": lambda r: r.get("relay_latency", {}).get("p99_ms", float("inf")),
           "saturate": lambda r: r.get("messages_in_per_s", 0)}
    res["rounds"] = rounds
    for s in sets:
        res[s] = {"ramp": load(f"{s}-ramp")}
        for mode in ("latency", "saturate"):
            runs = [load(f"{s}-{mode}-{r}") for r in range(1, rounds + 1)]
            res[s][f"{mode}_rounds"] = runs
            res[s][mode] = sorted(runs, key=key[mode])[(len(runs) - 1) // 2]
    json.dump(res, open(out, "w"), indent=1)
    return res


if sys.argv[1] != "--from":
    res = gather()


def get(s, mode, *keys):
    v = res.get(s, {}).get(mode, {})
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return v


def cores(s, mode, key):
    """a process's (or the sum's) CPU seconds in the run, as cores"""
    run = res.get(s, {}).get(mode, {})
    return run[key] / run["duration_s"] if run.get("duration_s") else None


def servers_cpu_s(s, mode):
    """the nodes and Redis together: what serves the parties"""
    run = res.get(s, {}).get(mode, {})
    return run["server_cpu_s"] + run.get("redis_cpu_s", 0)


def per_msg_us(s):
    sat = res.get(s, {}).get("saturate", {})
    n = sat.get("messages_in_per_s", 0) * sat.get("duration_s", 0)
    return 1e6 * servers_cpu_s(s, "saturate") / n if n else None


def others(s):
    """the cores other processes (not ours) took during saturate"""
    sat = res.get(s, {}).get("saturate", {})
    return (sat["machine_busy_cpu_s"] - sat["server_cpu_s"] - sat.get("redis_cpu_s", 0)
            - sat["loadgen_cpu_s"]) / sat["duration_s"]


def ceiling(s):
    """messages/s if each server process (node, Redis) had a core of its
    own, the load generator elsewhere: the busiest one's limit, from its
    CPU per message in saturate (a projection, not a measurement)"""
    sat = res.get(s, {}).get("saturate", {})
    n = sat["messages_in_per_s"] * sat["duration_s"]
    each = list(sat["server_cpu_s_each"]) + ([sat["redis_cpu_s"]] if sat.get("redis_cpu_s") else [])
    return n / max(each)


def held(s):
    """the last level of the ramp whose probe's p99 stayed under the limit
    (the ramp's max_sockets also counts the level that passed it)"""
    ok = [l["sockets"] for l in get(s, "ramp", "levels")
          if l["errors"] == 0 and l["probe_latency"]["p99_ms"] <= 250]
    return max(ok) if ok else 0


def redis_rss_mb(s):
    kb = max(l.get("redis_rss_kb", -1) for l in get(s, "ramp", "levels"))
    return kb / 1024 if kb >= 0 else None


rows = [
    ("sockets held, probe p99 <= 250 ms", held, ">= 18000"),
    ("nodes' RSS at max, MB", lambda s: (get(s, "ramp", "server_rss_kb_at_max") or 0) / 1024, ""),
    ("RSS per socket, KB", lambda s: get(s, "ramp", "rss_per_socket_kb"), ""),
    ("Redis RSS at max, MB", redis_rss_mb, ""),
    ("relay p50 @10k msg/s, ms", lambda s: get(s, "latency", "relay_latency", "p50_ms"), ""),
    ("relay p99 @10k msg/s, ms", lambda s: get(s, "latency", "relay_latency", "p99_ms"), "cluster <= 10"),
    ("nodes' CPU @10k msg/s, cores", lambda s: cores(s, "latency", "server_cpu_s"), ""),
    ("Redis CPU @10k msg/s, cores", lambda s: cores(s, "latency", "redis_cpu_s"), ""),
    ("saturation, msg/s in", lambda s: get(s, "saturate", "messages_in_per_s"), "cluster >= 1.5x one"),
    ("  nodes' CPU, cores", lambda s: cores(s, "saturate", "server_cpu_s"), ""),
    ("  Redis CPU, cores", lambda s: cores(s, "saturate", "redis_cpu_s"), ""),
    ("  loadgen CPU, cores", lambda s: cores(s, "saturate", "loadgen_cpu_s"), ""),
    ("  other processes, cores", others, ""),
    ("  machine busy, cores", lambda s: cores(s, "saturate", "machine_busy_cpu_s"), ""),
    ("servers' CPU per message, us", per_msg_us, ""),
    ("msg/s per servers' core", lambda s: 1e6 / per_msg_us(s) if per_msg_us(s) else None, ""),
    ("a core per server process: msg/s (projected)", ceiling, "cluster >= 1.5x one"),
]
names = [s for s in ("cluster", "one") if s in sets]
heads = {"cluster": f"{n_nodes} nodes", "one": "one node"}
print(f"\ncluster benchmark, {res['machine']['cores']} cores {res['machine']['cpu']}, "
      f"commit {commit}, {res['date']}; results in {os.path.relpath(out)}")
print(f"{'':46}" + "".join(f"{heads[n]:>12}" for n in names) +
      ("     ratio  target" if len(names) == 2 else ""))
for label, f, target in rows:
    vals = []
    for n in names:
        try:
            vals.append(f(n))
        except (KeyError, TypeError, ZeroDivisionError, ValueError):
            vals.append(None)
    line = f"{label:46}" + "".join(f"{v:12.2f}" if isinstance(v, float) else f"{str(v):>12}"
                                   for v in vals)
    if len(names) == 2 and all(isinstance(v, (int, float)) and v for v in vals):
        line += f"  {vals[0] / vals[1]:7.2f}x  {target}"
    elif target:
        line += f"           {target}"
    print(line)
for n in names:
    print(f"{heads[n]}: ramp stopped: {get(n, 'ramp', 'stopped_because')}; errors: latency "
          f"{get(n, 'latency', 'errors')}, saturate {get(n, 'saturate', 'errors')}; saturate's "
          f"nodes' CPU each: {get(n, 'saturate', 'server_cpu_s_each')} s; load average "
          + ", ".join(f"{m} {' '.join(get(n, m, 'load_average_before') or [])}"
                      for m in ("ramp", "latency", "saturate")))
for n in names:
    lat = [r.get("relay_latency", {}).get("p99_ms") for r in get(n, "latency_rounds") or []]
    sat = [r.get("messages_in_per_s") for r in get(n, "saturate_rounds") or []]
    if len(lat) > 1:
        print(f"{heads[n]}: the {len(lat)} rounds' relay p99 (ms): {lat}; saturation (msg/s): {sat}")
