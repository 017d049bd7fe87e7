//! Reading the kernel's maps: the totals and rows they hold, as records (the same records
//! the ring buffer and recordings carry, not encoded: the analysis takes them as they
//! are), and what the kernel could not keep.
use std::collections::HashSet;

use anyhow::Result;
use aya::maps::{HashMap, MapData};
use tracer_common::{
    record::{
        COUNTERS, Counter, CounterTotal, FaultTotals, Header, IdleThread, MapSlot, OffCpuTotals, Path as CopyPath,
        PathStat, PathTotals, RecordKind, SOFTIRQ_VECTORS, SoftirqStat, SoftirqTotals, SwitchCount, SwitchTotals,
        SyscallStat, SyscallTotals, ThreadRecord, ThreadState, WakeEdgeTotals,
    },
    syscalls,
};

use super::{
    Session,
    settings::{
        ALLOC_REMEDY, EDGES_PER_THREAD, FAULT_ROWS_PER_PROCESS, OFFCPU_PER_STACK, edge_rows, fault_rows, offcpu_rows,
    },
};
use crate::{
    decode::{Record, snapshot_header},
    procfs::{self, TaskStat},
};

impl Session {
    /// Records the ring buffer had no room for, summed over CPUs.
    pub fn lost(&self) -> Result<u64> {
        Ok(self.lost.get(&0, 0)?.iter().sum())
    }

    /// Entries each map had no room for, summed over CPUs (maps that overflowed only).
    /// Entries each map could not take, with what to change: (map, count, remedy), the
    /// maps that overflowed and those whose entries the kernel could not allocate.
    pub fn map_full(&self) -> Result<Vec<(MapSlot, u64, String)>> {
        let mut out = Vec::new();
        for slot in MapSlot::ALL {
            let full: u64 = self.map_full.get(&(slot as u32), 0)?.iter().sum();
            if full > 0 {
                out.push((slot, full, self.remedy(slot)));
            }
            let alloc: u64 = self.map_full.get(&(slot as u32 + MapSlot::ALL.len() as u32), 0)?.iter().sum();
            if alloc > 0 {
                out.push((slot, alloc, ALLOC_REMEDY.to_owned()));
            }
        }
        Ok(out)
    }

    /// Takes the rows of threads and processes that are gone out of the kernel's maps
    /// (their wake edges, off-CPU stacks and fault rows) and returns them as records: over
    /// a long trace the maps then hold the living only. Wake edges and fault rows are keyed
    /// with their thread's or process's life, so a reused TID or PID never loses a count to
    /// this; off-CPU rows are keyed by TID alone, so a TID reused since is swept too, which
    /// moves its rows into the stream early, never loses them.
    pub fn sweep(&mut self, threads: &HashSet<(u32, u32)>, procs: &HashSet<(u32, u32)>) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        if !threads.is_empty() {
            take_rows(
                &mut self.wake_edges,
                |k| threads.contains(&(k.wakee, k.life)),
                |key, edge| {
                    Record::WakeEdge(WakeEdgeTotals { header: snapshot_header(RecordKind::WakeEdgeTotals), key, edge })
                },
                &mut out,
            );
            let tids: HashSet<u32> = threads.iter().map(|&(tid, _)| tid).collect();
            take_rows(
                &mut self.offcpu,
                |k| tids.contains(&k.tid),
                |key, stat| {
                    Record::OffCpu(OffCpuTotals { header: snapshot_header(RecordKind::OffCpuTotals), key, stat })
                },
                &mut out,
            );
        }
        if !procs.is_empty() {
            take_rows(
                &mut self.faults,
                |k| procs.contains(&(k.tgid, k.life)),
                |key, stat| Record::Faults(FaultTotals { header: snapshot_header(RecordKind::FaultTotals), key, stat }),
                &mut out,
            );
        }
        Ok(out)
    }

    /// What to change so `map` does not overflow again.
    fn remedy(&self, map: MapSlot) -> String {
        let (threads, procs) = (self.max_threads, self.max_processes);
        match map {
            MapSlot::Threads => {
                format!("more threads of the target lived at once than --max-threads ({threads}): raise it")
            }
            MapSlot::Targets => {
                format!("the target had more processes at once than --max-processes ({procs}): raise it")
            }
            MapSlot::WakeEdges => format!(
                "more waker -> wakee pairs than {} ({EDGES_PER_THREAD} per thread of --max-threads): raise --max-threads",
                edge_rows(threads)
            ),
            MapSlot::Faults => format!(
                "faults in more (process, mapping) pairs than {} ({FAULT_ROWS_PER_PROCESS} per process of --max-processes): raise --max-processes",
                fault_rows(procs)
            ),
            MapSlot::Stacks => {
                format!("more distinct stacks than --max-stacks ({}): raise it", self.max_stacks)
            }
            MapSlot::OffCpu => format!(
                "more (thread, stack, waker stack) rows than {} ({OFFCPU_PER_STACK} per stack of --max-stacks): raise --max-stacks",
                offcpu_rows(self.max_stacks)
            ),
        }
    }

    /// The frames of stack `hash` (innermost first) and whether they are user addresses.
    pub fn stack(&self, hash: u64) -> Option<(Vec<u64>, bool)> {
        let f = self.stacks.get(&hash, 0).ok()?;
        Some((f.ips[..(f.len as usize).min(f.ips.len())].to_vec(), f.user != 0))
    }

    /// Every stack hash an off-CPU row refers to, with the process whose it is (user
    /// stacks are named in their process).
    pub fn stacks_in_use(&self) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        for (k, _) in self.offcpu.iter().filter_map(Result::ok) {
            let s = &k.stacks;
            out.extend([(s.kernel, k.tgid), (s.user, k.tgid), (s.waker_kernel, 0)]);
            // A task waker's user stack is in the waker's process, which the row does not
            // hold: its TID names it well enough for /proc.
            out.push((s.waker_user, s.waker_id));
        }
        out.retain(|(h, _)| *h != 0);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Threads of `tgid` whose last switch the kernel has not seen yet.
    pub fn live_threads_of(&self, tgid: u32) -> usize {
        self.threads.iter().filter_map(Result::ok).filter(|(_, t)| t.tgid == tgid).count()
    }

    /// What the kernel holds in maps, as records (so a recording holds them too): live
    /// threads, and the per-CPU totals summed over CPUs.
    pub fn snapshot(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (tid, mut state) in self.threads.iter().filter_map(Result::ok) {
            seen.insert(tid);
            let mut header = snapshot_header(RecordKind::ThreadSnapshot);
            (header.tid, header.tgid) = (tid, state.tgid);
            // The kernel names a thread only when it exits; a live one is named here.
            let stat = procfs::task_stat(state.tgid, tid);
            if let Some(s) = stat {
                state.comm = s.comm;
            }
            out.push(Record::Thread { exited: false, record: ThreadRecord { header, state } });
            if let Some(fault) = stat.and_then(|s| last_fault(&state, s)) {
                out.push(Record::Faults(fault));
            }
        }
        // Threads of the target the kernel never saw run in the window: all of them are
        // the target's, idle ones too.
        for tgid in self._targets.keys().filter_map(Result::ok) {
            for tid in procfs::task_ids(tgid) {
                if seen.contains(&tid) {
                    continue;
                }
                if let Some(s) = procfs::task_stat(tgid, tid) {
                    let header = Header { kind: RecordKind::IdleThread as u32, tid, tgid, ..Header::default() };
                    out.push(Record::IdleThread(IdleThread { header, comm: s.comm, state: s.state, _pad: [0; 7] }));
                }
            }
        }
        for (key, stat) in self.faults.iter().filter_map(Result::ok) {
            out.push(Record::Faults(FaultTotals { header: snapshot_header(RecordKind::FaultTotals), key, stat }));
        }
        for (key, stat) in self.offcpu.iter().filter_map(Result::ok) {
            out.push(Record::OffCpu(OffCpuTotals { header: snapshot_header(RecordKind::OffCpuTotals), key, stat }));
        }
        for nr in 0..syscalls::SLOTS {
            let stat = sum_syscalls(&self.syscalls.get(&nr, 0)?);
            if stat.count > 0 || stat.returned > 0 {
                let header = snapshot_header(RecordKind::SyscallTotals);
                out.push(Record::Syscall(SyscallTotals { header, nr, _pad: 0, stat }));
            }
        }
        for path in CopyPath::ALL {
            let stat = sum_paths(&self.ledger.get(&(path as u32), 0)?);
            if stat != PathStat::default() {
                let header = snapshot_header(RecordKind::PathTotals);
                out.push(Record::Path(PathTotals { header, path: path as u32, _pad: 0, stat }));
            }
        }
        for (key, edge) in self.wake_edges.iter().filter_map(Result::ok) {
            let header = snapshot_header(RecordKind::WakeEdgeTotals);
            out.push(Record::WakeEdge(WakeEdgeTotals { header, key, edge }));
        }
        for nr in 0..syscalls::SLOTS {
            let counts = self.switches.get(&nr, 0)?.iter().fold(SwitchCount::default(), |mut a, c| {
                a.voluntary += c.voluntary;
                a.involuntary += c.involuntary;
                a
            });
            if counts != SwitchCount::default() {
                let header = snapshot_header(RecordKind::SwitchTotals);
                out.push(Record::Switches(SwitchTotals { header, nr, _pad: 0, counts }));
            }
        }
        // Softirqs stay per CPU: the report shows where they ran.
        for vector in 0..SOFTIRQ_VECTORS {
            for (cpu, &stat) in self.softirqs.get(&vector, 0)?.iter().enumerate() {
                if stat != SoftirqStat::default() {
                    let header = snapshot_header(RecordKind::SoftirqTotals);
                    out.push(Record::Softirq(SoftirqTotals { header, vector, cpu: cpu as u32, stat }));
                }
            }
        }
        let floor: u64 = self.floor.get(&0, 0)?.iter().sum();
        if floor > 0 {
            let header = snapshot_header(RecordKind::CounterTotal);
            out.push(Record::Counter(CounterTotal { header, index: Counter::FloorHits as u32, _pad: 0, value: floor }));
        }
        for index in 0..COUNTERS.min(Counter::ALL.len() as u32) {
            if index == Counter::FloorHits as u32 {
                continue;
            }
            let value: u64 = self.counters.get(&index, 0)?.iter().sum();
            if value > 0 {
                let header = snapshot_header(RecordKind::CounterTotal);
                out.push(Record::Counter(CounterTotal { header, index, _pad: 0, value }));
            }
        }
        Ok(out)
    }
}

/// A live thread's last fault, still open when the trace ended: its own counters in
/// /proc/PID/task/TID/stat (fields 10 and 12) say what the kernel made of it, as the
/// thread's next event would have.
fn last_fault(t: &ThreadState, stat: TaskStat) -> Option<FaultTotals> {
    let f = &t.fault;
    if f.active == 0 {
        return None;
    }
    Some(FaultTotals {
        header: snapshot_header(RecordKind::FaultTotals),
        key: f.key(t.tgid, f.life),
        stat: f.outcome(stat.minflt, stat.majflt),
    })
}

fn sum_syscalls(per_cpu: &[SyscallStat]) -> SyscallStat {
    per_cpu.iter().fold(SyscallStat::default(), |mut a, s| {
        a.count += s.count;
        a.errors += s.errors;
        a.returned += s.returned;
        a.total_ns += s.total_ns;
        a.bytes += s.bytes;
        a.ready += s.ready;
        for (x, y) in a.latency.iter_mut().zip(s.latency) {
            *x += y;
        }
        a
    })
}

fn sum_paths(per_cpu: &[PathStat]) -> PathStat {
    per_cpu.iter().fold(PathStat::default(), |mut a, s| {
        a.calls += s.calls;
        a.bytes_out += s.bytes_out;
        a.bytes_in += s.bytes_in;
        a.cpu_k2u += s.cpu_k2u;
        a.cpu_u2k += s.cpu_u2k;
        a.zero_copy += s.zero_copy;
        a
    })
}

/// Takes the rows of `map` whose keys `dead` picks out of the kernel's map, each as the
/// record `record` makes of it.
fn take_rows<K: aya::Pod, V: aya::Pod>(
    map: &mut HashMap<MapData, K, V>,
    dead: impl Fn(&K) -> bool,
    record: impl Fn(K, V) -> Record,
    out: &mut Vec<Record>,
) {
    let keys: Vec<K> = map.keys().filter_map(Result::ok).filter(|k| dead(k)).collect();
    for key in keys {
        if let Ok(value) = map.get(&key, 0) {
            out.push(record(key, value));
        }
        let _ = map.remove(&key);
    }
}
