#!/usr/bin/env python3
"""Kernel cost per program run of raqib's file programs, two raqib binaries
against each other (root). For each round, each binary in turn (the order
alternates) is started with its built-in configuration; each load phase of
program_cost_load.c runs against it, and the run_time_ns / run_cnt of its
file programs over the phase are taken from bpftool (its programs found
through /proc/PID/fdinfo), with kernel.bpf_stats_enabled on for the run
(restored after). Prints the medians as a markdown table.

  benchmarks/program_cost.py A_BINARY B_BINARY [ROUNDS]

Put both binaries in build/core/ (the built-in configuration finds the
plugins next to them)."""
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading

PHASES = [("open", 100000), ("failed", 100000), ("unlink", 50000), ("rename", 50000)]
PROGRAMS = ["raqib_enter_openat", "raqib_enter_unlink", "raqib_enter_rename", "raqib_sys_exit",
            "raqib_ext4_inode_dirty", "raqib_inode_dirty"]


def prog_ids(pid):
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                ids.update(int(l.split()[1]) for l in info if l.startswith("prog_id:"))
        except OSError:
            pass
    return ids


def snapshot(ids):
    progs = json.loads(subprocess.check_output(["bpftool", "prog", "show", "-j"]))
    return {p["name"]: (p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in progs if p["id"] in ids}


def one_round(binary, load, tmp, results):
    daemon = subprocess.Popen([binary, "--events", "detections"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        # Every program is attached once the daemon says it is ready; its
        # log is read to the end after that, so it never blocks on it.
        timer = threading.Timer(60, daemon.kill)
        timer.start()
        ready = any("raqib ready" in line for line in daemon.stderr)
        timer.cancel()
        if not ready:
            sys.exit(f"{binary}: not ready within 60 s")
        threading.Thread(target=daemon.stderr.read, daemon=True).start()
        ids = prog_ids(daemon.pid)
        for phase, n in PHASES:
            before = snapshot(ids)
            subprocess.check_call([load, phase, tmp, str(n)])
            after = snapshot(ids)
            for name in PROGRAMS:  # a program one binary lacks counts no run
                ns = after.get(name, (0, 0))[0] - before.get(name, (0, 0))[0]
                runs = after.get(name, (0, 0))[1] - before.get(name, (0, 0))[1]
                if runs >= n / 2:  # the phase's own program, not a stray run
                    results.setdefault((phase, name), []).append(ns / runs)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    binaries = sys.argv[1:3]
    rounds = int(sys.argv[3]) if len(sys.argv) == 4 else 5
    stats = "/proc/sys/kernel/bpf_stats_enabled"
    with open(stats) as f:
        was = f.read().strip()
    results = [{}, {}]
    with tempfile.TemporaryDirectory(prefix="raqib-program-cost-") as tmp:
        load = os.path.join(tmp, "load")
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.check_call(["cc", "-O2", "-o", load, os.path.join(here, "program_cost_load.c")])
        work = os.path.join(tmp, "files")
        os.mkdir(work)
        with open(stats, "w") as f:
            f.write("1")
        try:
            for r in range(rounds):
                for i in (0, 1) if r % 2 == 0 else (1, 0):
                    one_round(binaries[i], load, work, results[i])
                print(f"round {r + 1} of {rounds} done", file=sys.stderr)
        finally:
            with open(stats, "w") as f:
                f.write(was)
    print(f"median ns per program run over {rounds} interleaved rounds")
    print(f"| phase | program | {binaries[0]} | {binaries[1]} |")
    print("| --- | --- | --- | --- |")
    for phase, _ in PHASES:
        for name in PROGRAMS:
            a, b = (res.get((phase, name)) for res in results)
            if a or b:
                cells = (f"{statistics.median(x):.0f}" if x else "—" for x in (a, b))
                print(f"| {phase} | {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
