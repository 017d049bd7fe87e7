"""Checks a Perfetto trace the tracer wrote against the JSON report of the same trace.

The trace is read with the trace schema's official Python bindings (PyPI's `perfetto`
package), not with the tracer's own encoder: an independent reader. Checked:
  - it parses; every event is on a described track, in time order; slices balance;
  - per target thread, its runs ("on CPU n") are the report's time slices (the main
    thread of a launched command has one more: the run from its exec, inside the slice
    the launcher began, which the kernel's counters give to the launcher; a thread
    preempted in its exit after its process left the target set has one fewer);
  - its off-CPU slices are the report's switches: "blocked in X" per syscall X as
    sched.by_syscall's voluntary switches, "preempted" as the involuntary ones;
  - every wakeup followed by a run is one flow arrow, ending on that run: wakeups.paired;
  - syscall slices are the calls that returned; softirq slices the softirq runs;
  - the copy counters end at the copy ledger's totals.
Prints one line per check; exits 1 at the first that fails.

With no REPORT, only that the trace is well-formed.

usage: perfetto_check.py TRACE [REPORT]
"""
import json
import sys
from collections import Counter, defaultdict

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

TYPE = pb.TrackEvent.Type


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check(what, got, want):
    if got != want:
        fail(f"{what}: trace {got}, report {want}")
    print(f"ok: {what}: {got}")


def read(path):
    trace = pb.Trace()
    with open(path, "rb") as f:
        trace.ParseFromString(f.read())
    tracks = {}
    for p in trace.packet:
        if p.HasField("track_descriptor"):
            d = p.track_descriptor
            if d.uuid in tracks:
                fail(f"track {d.uuid} described twice")
            tracks[d.uuid] = d
    return trace, tracks


def main(trace_path, report_path=None):
    report = json.load(open(report_path)) if report_path else {"target": {"pid": 0}}
    trace, tracks = read(trace_path)
    open_slices = defaultdict(list)
    slices = defaultdict(Counter)  # track uuid -> slice name -> count
    flows_out, flows_in = set(), set()
    counters = {}
    last_ts = 0
    for p in trace.packet:
        if not p.HasField("track_event"):
            continue
        e = p.track_event
        if p.timestamp < last_ts:
            fail(f"events out of time order at {p.timestamp}")
        last_ts = p.timestamp
        if e.track_uuid not in tracks:
            fail(f"an event on an undescribed track {e.track_uuid}")
        flows_out.update(e.flow_ids)
        flows_in.update(e.terminating_flow_ids)
        if e.type == TYPE.TYPE_SLICE_BEGIN:
            open_slices[e.track_uuid].append(p.timestamp)
            slices[e.track_uuid][e.name] += 1
        elif e.type == TYPE.TYPE_SLICE_END:
            if not open_slices[e.track_uuid]:
                fail(f"a slice ends without a begin on track {tracks[e.track_uuid]}")
            if p.timestamp < open_slices[e.track_uuid].pop():
                fail("a slice ends before it begins")
        elif e.type == TYPE.TYPE_COUNTER:
            counters[e.track_uuid] = e.counter_value
    check("unclosed slices", sum(len(v) for v in open_slices.values()), 0)

    threads = {d.thread.tid: d for d in tracks.values() if d.HasField("thread")}
    state = {d.name.rsplit(":", 1)[0].rsplit(" ", 1)[-1]: u for u, d in tracks.items() if d.name.endswith(": on/off CPU")}
    blocked, preempted = Counter(), 0
    sched = report.get("sched")
    for t in sched["threads"] if sched else []:
        tid = t["tid"]
        runs = slices[state.get(str(tid))] if str(tid) in state else Counter()
        on = sum(n for name, n in runs.items() if name.startswith("on CPU "))
        extra = 1 if tid == report["target"]["pid"] and on > 0 else 0
        # A thread preempted in its exit, after its process left the target set
        # (sched_process_exit), runs once more unseen; the kernel's count has that run.
        unseen = t["slices"] + extra - on
        if t["exited"] and unseen == 1:
            print(f"ok: thread {tid}: runs: {on}, and one in its exit, unseen")
        else:
            check(f"thread {tid}: runs", on, t["slices"] + extra)
        for name, n in runs.items():
            if name.startswith("blocked in "):
                blocked[name[len("blocked in "):]] += n
            elif name == "blocked":
                blocked["user or fault"] += n
            elif name.startswith("preempted"):
                preempted += n
    if sched:
        by = {b["syscall"]: b for b in sched["by_syscall"]}
        check("blocked slices by syscall", dict(blocked), {k: b["voluntary"] for k, b in by.items() if b["voluntary"]})
        check("preempted slices", preempted, sched["involuntary"])
    if report.get("wakeups"):
        check("flows started", len(flows_out), report["wakeups"]["paired"])
        check("flows ended on a run", len(flows_in & flows_out), report["wakeups"]["paired"])
    if report.get("syscalls"):
        calls = sum(n for u, c in slices.items() if tracks[u].HasField("thread") for n in c.values())
        check("syscall slices", calls, sum(s["returned"] for s in report["syscalls"]))
    if report.get("softirq"):
        runs = sum(n for u, c in slices.items() if tracks[u].name.startswith("CPU ") for n in c.values())
        check("softirq slices", runs, sum(v["count"] for v in report["softirq"]["vectors"]))
    if report.get("copies"):
        total = lambda name: sum(v for u, v in counters.items() if tracks[u].name == name)
        check("bytes copied by the CPU", total("bytes copied by the CPU"), report["copies"]["cpu_copy_bytes"])
        check("bytes moved without a CPU copy", total("bytes moved without a CPU copy"), report["copies"]["zero_copy_bytes"])
    print(f"ok: {len(trace.packet)} packets, {len(tracks)} tracks, {len(threads)} threads")


if __name__ == "__main__":
    main(*sys.argv[1:3])
