//! `--perfetto FILE`: the timeline as a Perfetto trace (protobuf TrackEvents), for
//! ui.perfetto.dev. Per target thread, a track of its syscalls (epoll waits with the
//! events they returned) and beside it a track of its time on and off CPU, off-CPU time
//! split into blocked (and in which syscall) and runnable (woken, waiting for a CPU);
//! a flow arrow from each waker to the run it caused; per CPU a track of softirq runs
//! and of the interrupts that woke a target; per process the cumulative bytes the CPU
//! copied beside those moved without that copy.
//!
//! The messages are the subset of perfetto's trace schema (protos/perfetto/trace) this
//! needs, with the schema's own field numbers, encoded by prost: the schema is stable by
//! contract (fields are never renumbered), and a generated copy of the whole would be
//! thousands of lines for these few.
use std::{
    collections::{BTreeMap, HashMap},
    io::{self, Write},
};

use prost::Message;
use tracer_common::{
    record::{CpuSlice, SOFTIRQ_NAMES, SyscallSlice, USER_MODE, WAKER_TASK, WakeEvent, Waker},
    syscalls::{is_epoll_wait, name as syscall_name},
};

use crate::analysis::{
    timeline::{Event, Timeline},
    wakeups::source,
};
use crate::report::Report;

#[derive(Clone, PartialEq, Message)]
struct Trace {
    #[prost(message, repeated, tag = "1")]
    packet: Vec<TracePacket>,
}

#[derive(Clone, PartialEq, Message)]
struct TracePacket {
    #[prost(uint64, optional, tag = "8")]
    timestamp: Option<u64>,
    #[prost(uint32, optional, tag = "10")]
    trusted_packet_sequence_id: Option<u32>,
    #[prost(message, optional, tag = "11")]
    track_event: Option<TrackEvent>,
    #[prost(uint32, optional, tag = "13")]
    sequence_flags: Option<u32>,
    #[prost(message, optional, tag = "60")]
    track_descriptor: Option<TrackDescriptor>,
}

#[derive(Clone, PartialEq, Message)]
struct TrackDescriptor {
    #[prost(uint64, optional, tag = "1")]
    uuid: Option<u64>,
    #[prost(string, optional, tag = "2")]
    name: Option<String>,
    #[prost(message, optional, tag = "3")]
    process: Option<ProcessDescriptor>,
    #[prost(message, optional, tag = "4")]
    thread: Option<ThreadDescriptor>,
    #[prost(uint64, optional, tag = "5")]
    parent_uuid: Option<u64>,
    #[prost(message, optional, tag = "8")]
    counter: Option<CounterDescriptor>,
}

#[derive(Clone, PartialEq, Message)]
struct ProcessDescriptor {
    #[prost(int32, optional, tag = "1")]
    pid: Option<i32>,
    #[prost(string, optional, tag = "6")]
    process_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ThreadDescriptor {
    #[prost(int32, optional, tag = "1")]
    pid: Option<i32>,
    #[prost(int64, optional, tag = "2")]
    tid: Option<i64>,
    #[prost(string, optional, tag = "5")]
    thread_name: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct CounterDescriptor {
    /// `CounterDescriptor.Unit`: UNIT_SIZE_BYTES = 3.
    #[prost(int32, optional, tag = "3")]
    unit: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct TrackEvent {
    #[prost(message, repeated, tag = "4")]
    debug_annotations: Vec<DebugAnnotation>,
    /// `TrackEvent.Type`.
    #[prost(int32, optional, tag = "9")]
    r#type: Option<i32>,
    #[prost(uint64, optional, tag = "11")]
    track_uuid: Option<u64>,
    #[prost(string, repeated, tag = "22")]
    categories: Vec<String>,
    #[prost(string, optional, tag = "23")]
    name: Option<String>,
    #[prost(int64, optional, tag = "30")]
    counter_value: Option<i64>,
    #[prost(fixed64, repeated, packed = "false", tag = "47")]
    flow_ids: Vec<u64>,
    #[prost(fixed64, repeated, packed = "false", tag = "48")]
    terminating_flow_ids: Vec<u64>,
}

#[derive(Clone, PartialEq, Message)]
struct DebugAnnotation {
    #[prost(int64, optional, tag = "4")]
    int_value: Option<i64>,
    #[prost(string, optional, tag = "6")]
    string_value: Option<String>,
    #[prost(string, optional, tag = "10")]
    name: Option<String>,
}

const SLICE_BEGIN: i32 = 1;
const SLICE_END: i32 = 2;
const INSTANT: i32 = 3;
const COUNTER: i32 = 4;
const UNIT_SIZE_BYTES: i32 = 3;
/// `TracePacket.sequence_flags`.
const SEQ_INCREMENTAL_STATE_CLEARED: u32 = 1;
const SEQ_NEEDS_INCREMENTAL_STATE: u32 = 2;
const SEQUENCE: u32 = 1;

/// What the Perfetto trace holds, to check it against the report.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub cpu_slices: u64,
    pub syscall_slices: u64,
    pub softirq_slices: u64,
    /// Wakeups drawn as an arrow to the run they caused.
    pub flows: u64,
}

/// Writes the trace of `timeline`, its threads named after `report`.
pub fn write(timeline: &Timeline, report: &Report, out: &mut dyn Write) -> io::Result<Written> {
    let mut b = Builder { report, tracks: BTreeMap::new(), events: Vec::new(), written: Written::default() };
    b.build(timeline);
    out.write_all(&Trace { packet: b.packets() }.encode_to_vec())?;
    Ok(b.written)
}

/// One event to place on the trace, kept with its time until all are sorted. Each track's
/// events are made in their order, so a stable sort by time keeps back-to-back and empty
/// slices whole.
struct Timed {
    ts: u64,
    event: TrackEvent,
}

/// A target thread's events, in time order.
#[derive(Default)]
struct Thread<'t> {
    tgid: u32,
    runs: Vec<&'t CpuSlice>,
    wakes: Vec<&'t WakeEvent>,
    calls: Vec<&'t SyscallSlice>,
}

struct Builder<'a> {
    report: &'a Report,
    tracks: BTreeMap<u64, TrackDescriptor>,
    events: Vec<Timed>,
    written: Written,
}

// Track ids: the kind in the top byte, the thread, process or CPU below.
const PROCESS: u64 = 1 << 56;
const THREAD: u64 = 2 << 56;
const CPU_STATE: u64 = 3 << 56;
const CPU: u64 = 4 << 56;
const COPIED: u64 = 5 << 56;
const ZERO_COPIED: u64 = 6 << 56;

impl Builder<'_> {
    fn build(&mut self, timeline: &Timeline) {
        let mut threads: BTreeMap<u32, Thread<'_>> = BTreeMap::new();
        for e in &timeline.events {
            match e {
                Event::Cpu(r) => threads.entry(r.header.tid).or_default().runs.push(r),
                Event::Syscall(r) => threads.entry(r.header.tid).or_default().calls.push(r),
                Event::Wake(r) => threads.entry(r.header.tid).or_default().wakes.push(r),
                Event::Softirq(r) => {
                    let name =
                        SOFTIRQ_NAMES.get(r.vec as usize).map_or_else(|| format!("vector {}", r.vec), |n| (*n).into());
                    let track = self.cpu_track(r.header.cpu);
                    self.slice(track, r.start_ns, r.header.ts_ns, name, vec![]);
                    self.written.softirq_slices += 1;
                }
            }
            if let Event::Cpu(CpuSlice { header, .. }) | Event::Syscall(SyscallSlice { header, .. }) = e {
                threads.entry(header.tid).or_default().tgid = header.tgid;
            }
        }
        let mut flow = 0;
        for (&tid, t) in &mut threads {
            if t.runs.is_empty() && t.calls.is_empty() {
                continue; // woken, but it never ran nor returned from a call in the trace
            }
            t.runs.sort_by_key(|r| r.header.ts_ns);
            t.wakes.sort_by_key(|w| w.header.ts_ns);
            t.calls.sort_by_key(|c| c.header.ts_ns);
            self.thread_tracks(tid, t.tgid);
            self.runs(tid, t, &mut flow);
            self.calls(tid, t);
        }
        self.copy_counters(&threads);
    }

    /// Runs on a CPU and the gaps between them: blocked (in the call it left in) until
    /// the wakeup that ended the sleep, runnable from there (an arrow from the waker to
    /// the run); or preempted, runnable all along.
    fn runs(&mut self, tid: u32, t: &Thread<'_>, flow: &mut u64) {
        let track = CPU_STATE | u64::from(tid);
        let mut wakes = t.wakes.iter().peekable();
        let mut previous: Option<&CpuSlice> = None;
        for run in &t.runs {
            let start = run.start_ns;
            let mut begin = event(track, SLICE_BEGIN, Some(format!("on CPU {}", run.header.cpu)));
            if let Some(p) = previous {
                let out = p.header.ts_ns;
                // The wakeup of this sleep came after the previous run began (it can land
                // just before the switch-out is seen) and by this run's start.
                while wakes.next_if(|w| w.header.ts_ns <= p.start_ns).is_some() {}
                let wake = if p.voluntary != 0 { wakes.next_if(|w| w.header.ts_ns <= start) } else { None };
                let why =
                    if p.nr == USER_MODE { "blocked".to_owned() } else { format!("blocked in {}", syscall_name(p.nr)) };
                match (p.voluntary != 0, wake) {
                    (false, _) => self.slice(track, out, start, "preempted (runnable)".into(), vec![]),
                    (true, None) => self.slice(track, out, start, why, vec![]),
                    (true, Some(w)) => {
                        let woken = w.header.ts_ns.clamp(out, start);
                        let by = waker_name(&w.waker, &w.comm);
                        self.slice(track, out, woken, why, vec![annotation("woken by", by.clone())]);
                        self.slice(track, woken, start, "runnable (woken)".into(), vec![annotation("woken by", by)]);
                        *flow += 1;
                        self.waker_instant(w, tid, *flow);
                        begin.terminating_flow_ids.push(*flow);
                        self.written.flows += 1;
                    }
                }
            }
            if start != 0 {
                self.push(start, begin);
                self.push(run.header.ts_ns, event(track, SLICE_END, None));
                self.written.cpu_slices += 1;
            }
            previous = Some(run);
        }
    }

    /// Where the arrow of wakeup `w` starts: the waking task's thread, or the CPU whose
    /// interrupt woke it.
    fn waker_instant(&mut self, w: &WakeEvent, wakee: u32, flow: u64) {
        let track = if w.waker.kind == WAKER_TASK {
            self.waker_thread(w.waker.id, w.waker.extra, &c_string(&w.comm))
        } else {
            self.cpu_track(w.header.cpu)
        };
        let mut e = event(track, INSTANT, Some(format!("wakes {wakee}")));
        e.flow_ids.push(flow);
        self.push(w.header.ts_ns, e);
    }

    /// Syscalls, with what they returned.
    fn calls(&mut self, tid: u32, t: &Thread<'_>) {
        let track = THREAD | u64::from(tid);
        for c in &t.calls {
            let key = if is_epoll_wait(u64::from(c.nr)) { "events" } else { "returned" };
            let ret = DebugAnnotation { name: Some(key.into()), int_value: Some(c.ret), string_value: None };
            self.slice(track, c.start_ns, c.header.ts_ns, syscall_name(c.nr).into_owned(), vec![ret]);
            self.written.syscall_slices += 1;
        }
    }

    /// Per process, the bytes its calls had the CPU copy and moved without that, summed
    /// over its threads in time order.
    fn copy_counters(&mut self, threads: &BTreeMap<u32, Thread<'_>>) {
        let mut calls: Vec<&SyscallSlice> = threads.values().flat_map(|t| t.calls.iter().copied()).collect();
        calls.sort_by_key(|c| c.header.ts_ns);
        let mut totals: HashMap<(u64, u32), i64> = HashMap::new();
        for c in calls {
            for (bytes, kind) in [(c.cpu_copied, COPIED), (c.zero_copied, ZERO_COPIED)] {
                if bytes > 0 {
                    let total = totals.entry((kind, c.header.tgid)).or_default();
                    *total += bytes as i64;
                    let mut e = event(kind | u64::from(c.header.tgid), COUNTER, None);
                    e.counter_value = Some(*total);
                    self.push(c.header.ts_ns, e);
                }
            }
        }
    }

    fn comm(&self, tid: u32) -> Option<String> {
        self.report.sched.get()?.threads.iter().find(|t| t.tid == tid).map(|t| t.comm.clone())
    }

    /// The tracks of a target thread (and its process): syscalls, and on/off CPU.
    fn thread_tracks(&mut self, tid: u32, tgid: u32) {
        let process = PROCESS | u64::from(tgid);
        if !self.tracks.contains_key(&process) {
            let name = if tgid == self.report.target.pid {
                self.report.target.command.clone()
            } else {
                self.comm(tgid).unwrap_or_else(|| format!("process {tgid}"))
            };
            let descriptor = ProcessDescriptor { pid: Some(tgid as i32), process_name: Some(name) };
            self.tracks.insert(
                process,
                TrackDescriptor { uuid: Some(process), process: Some(descriptor), ..Default::default() },
            );
            for (kind, name) in [(COPIED, "bytes copied by the CPU"), (ZERO_COPIED, "bytes moved without a CPU copy")] {
                let uuid = kind | u64::from(tgid);
                let counter = Some(CounterDescriptor { unit: Some(UNIT_SIZE_BYTES) });
                let d = TrackDescriptor {
                    uuid: Some(uuid),
                    name: Some(name.into()),
                    parent_uuid: Some(process),
                    counter,
                    ..Default::default()
                };
                self.tracks.insert(uuid, d);
            }
        }
        let comm = self.comm(tid).unwrap_or_else(|| format!("thread {tid}"));
        self.waker_thread(tid, tgid, &comm);
        let state = CPU_STATE | u64::from(tid);
        let name = Some(format!("{comm} {tid}: on/off CPU"));
        self.tracks.insert(
            state,
            TrackDescriptor { uuid: Some(state), name, parent_uuid: Some(process), ..Default::default() },
        );
    }

    /// A thread's own track (a waker that is not a target gets one too).
    fn waker_thread(&mut self, tid: u32, tgid: u32, comm: &str) -> u64 {
        let uuid = THREAD | u64::from(tid);
        self.tracks.entry(uuid).or_insert_with(|| {
            let thread = ThreadDescriptor {
                pid: Some(tgid as i32),
                tid: Some(i64::from(tid)),
                thread_name: Some(comm.to_owned()),
            };
            TrackDescriptor { uuid: Some(uuid), thread: Some(thread), ..Default::default() }
        });
        uuid
    }

    fn cpu_track(&mut self, cpu: u32) -> u64 {
        let uuid = CPU | u64::from(cpu);
        self.tracks.entry(uuid).or_insert_with(|| TrackDescriptor {
            uuid: Some(uuid),
            name: Some(format!("CPU {cpu}: softirqs and interrupts")),
            ..Default::default()
        });
        uuid
    }

    fn slice(&mut self, track: u64, start: u64, end: u64, name: String, args: Vec<DebugAnnotation>) {
        let mut begin = event(track, SLICE_BEGIN, Some(name));
        begin.debug_annotations = args;
        self.push(start, begin);
        self.push(end.max(start), event(track, SLICE_END, None));
    }

    fn push(&mut self, ts: u64, event: TrackEvent) {
        self.events.push(Timed { ts, event });
    }

    /// The descriptors first, then every event in time order, on one sequence.
    fn packets(&mut self) -> Vec<TracePacket> {
        let mut packets = vec![TracePacket {
            trusted_packet_sequence_id: Some(SEQUENCE),
            sequence_flags: Some(SEQ_INCREMENTAL_STATE_CLEARED),
            ..Default::default()
        }];
        packets.extend(std::mem::take(&mut self.tracks).into_values().map(|d| TracePacket {
            trusted_packet_sequence_id: Some(SEQUENCE),
            track_descriptor: Some(d),
            ..Default::default()
        }));
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|e| e.ts);
        packets.extend(events.into_iter().map(|e| TracePacket {
            timestamp: Some(e.ts),
            trusted_packet_sequence_id: Some(SEQUENCE),
            sequence_flags: Some(SEQ_NEEDS_INCREMENTAL_STATE),
            track_event: Some(e.event),
            ..Default::default()
        }));
        packets
    }
}

fn event(track: u64, kind: i32, name: Option<String>) -> TrackEvent {
    TrackEvent { r#type: Some(kind), track_uuid: Some(track), name, ..Default::default() }
}

fn annotation(name: &str, value: String) -> DebugAnnotation {
    DebugAnnotation { name: Some(name.into()), string_value: Some(value), int_value: None }
}

fn waker_name(w: &Waker, comm: &[u8; 16]) -> String {
    if w.kind == WAKER_TASK { format!("{} {}", c_string(comm), w.id) } else { source(w.kind, w.id) }
}

fn c_string(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or_default()).into_owned()
}

#[cfg(test)]
mod tests {
    use tracer_common::record::{Header, WAKER_SOFTIRQ};

    use super::*;

    fn header(tid: u32, cpu: u32, ts_ns: u64) -> Header {
        Header { kind: 0, cpu, tid, tgid: 10, ts_ns }
    }

    fn run(tid: u32, start_ns: u64, end: u64, nr: u32, voluntary: bool) -> Event {
        Event::Cpu(CpuSlice { header: header(tid, 1, end), start_ns, nr, voluntary: u32::from(voluntary) })
    }

    fn wake(tid: u32, ts: u64, waker: Waker) -> Event {
        Event::Wake(WakeEvent { header: header(tid, 0, ts), waker, comm: *b"waker\0\0\0\0\0\0\0\0\0\0\0" })
    }

    /// A slice as (track, begin, end, name).
    type Slice = (u64, u64, u64, String);

    /// The slices, and the flows started and ended.
    fn slices(bytes: &[u8]) -> (Vec<Slice>, Vec<u64>, Vec<u64>) {
        let trace = Trace::decode(bytes).unwrap();
        let (mut open, mut out, mut flows, mut ends) =
            (BTreeMap::<u64, Vec<(u64, String)>>::new(), vec![], vec![], vec![]);
        for p in trace.packet {
            let Some(e) = p.track_event else { continue };
            let (ts, track) = (p.timestamp.unwrap(), e.track_uuid.unwrap());
            flows.extend(e.flow_ids);
            ends.extend(e.terminating_flow_ids);
            match e.r#type.unwrap() {
                SLICE_BEGIN => open.entry(track).or_default().push((ts, e.name.unwrap())),
                SLICE_END => {
                    let (begin, name) = open.get_mut(&track).unwrap().pop().expect("an end without a begin");
                    out.push((track, begin, ts, name));
                }
                _ => {}
            }
        }
        assert!(open.values().all(Vec::is_empty), "unclosed slices");
        (out, flows, ends)
    }

    /// A thread blocks in read(2) at 20, is woken by a task at 30 and runs at 35; is
    /// preempted at 40 and runs at 45; blocks at 50 and is woken by NET_RX, on another
    /// CPU, at 60 but the trace ends before it runs.
    #[test]
    fn off_cpu_time_is_blocked_then_runnable_and_each_wakeup_is_one_arrow_to_its_run() {
        let task = Waker { kind: WAKER_TASK, id: 7, extra: 10, ..Waker::default() };
        let net_rx = Waker { kind: WAKER_SOFTIRQ, id: 3, extra: 0, ..Waker::default() };
        let events = vec![
            run(5, 10, 20, 0, true),
            wake(5, 30, task),
            run(5, 35, 40, USER_MODE, false),
            run(5, 45, 50, 232, true),
            wake(5, 60, net_rx),
        ];
        let mut timeline = Timeline::default();
        timeline.events = events;
        let mut bytes = Vec::new();
        let written = write(&timeline, &crate::report::sample(), &mut bytes).unwrap();
        assert_eq!(written, Written { cpu_slices: 3, syscall_slices: 0, softirq_slices: 0, flows: 1 });
        let (slices, flows, ends) = slices(&bytes);
        let state: Vec<(u64, u64, &str)> =
            slices.iter().filter(|s| s.0 == CPU_STATE | 5).map(|(_, b, e, n)| (*b, *e, n.as_str())).collect();
        assert_eq!(
            state,
            [
                (10, 20, "on CPU 1"),
                (20, 30, "blocked in read"),
                (30, 35, "runnable (woken)"),
                (35, 40, "on CPU 1"),
                (40, 45, "preempted (runnable)"),
                (45, 50, "on CPU 1"),
            ]
        );
        assert_eq!((flows, ends), (vec![1], vec![1]), "one arrow, from the task to the run at 35");
    }
}
