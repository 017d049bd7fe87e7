//! The record pipeline: every record a trace gets, from the ring buffer or made from the
//! kernel's maps, goes through one [`Consumer`]: decoded, enriched (file names made
//! paths, stacks named), recorded if asked, and folded into the analysis.
use std::collections::HashSet;

use anyhow::Result;
use tracer_common::record::NAME_KERNEL_FORM;

use crate::{
    analysis::{Analysis, TraceMeta, timeline::Timeline},
    decode::{Record, StackNames, decode},
    mappings::Mounts,
    recording,
    session::Session,
    symbols::Symbols,
};

/// Everything a record goes through, in order.
pub struct Consumer {
    pub analysis: Analysis,
    recorder: Option<recording::Writer>,
    pub records: u64,
    pub undecodable: u64,
    mounts: Mounts,
    /// Threads and processes that ended, (id, life): their rows are taken out of the
    /// kernel's maps at the next sweep but one (a process's last thread can still book a
    /// fault after the process's exit record).
    ended: Ended,
    /// With `--stacks`: stacks the kernel reported new, to be named (hash, process).
    stacks: Option<StackNamer>,
    /// With `--timeline`: its events (kept apart from the analysis, which is copied for
    /// every interim report).
    pub timeline: Timeline,
}

/// Names each new stack as soon as the kernel reports it, while its process lives.
struct StackNamer {
    symbols: Symbols,
    pending: Vec<(u64, u32)>,
    named: HashSet<u64>,
}

#[derive(Default)]
struct Ended {
    threads: HashSet<(u32, u32)>,
    procs: HashSet<(u32, u32)>,
    /// Ended before the last sweep: swept at the next.
    ripe_threads: HashSet<(u32, u32)>,
    ripe_procs: HashSet<(u32, u32)>,
}

impl Consumer {
    pub fn new(recorder: Option<recording::Writer>) -> Self {
        Self {
            analysis: Analysis::default(),
            recorder,
            records: 0,
            undecodable: 0,
            mounts: Mounts::default(),
            ended: Ended::default(),
            stacks: None,
            timeline: Timeline::default(),
        }
    }

    /// Stacks are captured: name them.
    pub fn name_stacks(mut self) -> Self {
        self.stacks = Some(StackNamer { symbols: Symbols::new(), pending: Vec::new(), named: HashSet::new() });
        self
    }

    /// Names the stacks reported new since the last call (their frames are read from the
    /// kernel's map) into `StackNames` records.
    pub(super) fn name_new_stacks(&mut self, session: &Session) -> Result<()> {
        let pending = match &mut self.stacks {
            Some(n) if !n.pending.is_empty() => std::mem::take(&mut n.pending),
            _ => return Ok(()),
        };
        self.name(session, pending)
    }

    /// Names every stack an off-CPU row refers to that is not named yet (its report of
    /// being new was lost, or came too late): at the end of the trace.
    pub(super) fn name_remaining_stacks(&mut self, session: &Session) -> Result<()> {
        if self.stacks.is_some() {
            self.name(session, session.stacks_in_use())?;
        }
        Ok(())
    }

    fn name(&mut self, session: &Session, stacks: Vec<(u64, u32)>) -> Result<()> {
        let stacks: Vec<(u64, u32, Vec<u64>, bool)> = stacks
            .into_iter()
            .filter_map(|(hash, pid)| session.stack(hash).map(|(ips, user)| (hash, pid, ips, user)))
            .collect();
        // First keep the memory map of every process with a new user stack, while it
        // lives: naming takes longer (a binary's symbols are read the first time).
        if let Some(namer) = &self.stacks {
            let pids: HashSet<u32> = stacks.iter().filter(|s| s.3).map(|s| s.1).collect();
            for pid in pids {
                namer.symbols.keep(pid);
            }
        }
        for (hash, pid, ips, user) in stacks {
            let Some(namer) = &mut self.stacks else { return Ok(()) };
            if !namer.named.insert(hash) {
                continue;
            }
            let (frames, _) = namer.symbols.name(&ips, user, pid);
            self.take(Record::StackNames(Box::new(StackNames { hash, user, pid, frames })))?;
        }
        Ok(())
    }

    /// A record as the kernel sent it (the ring buffer).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<()> {
        match decode(bytes) {
            // A file name comes from the kernel as dentry names: make it a path.
            Ok(Record::FileName(n)) if n.flags & NAME_KERNEL_FORM != 0 => {
                let named = self.mounts.resolve(&n);
                self.take(Record::FileName(Box::new(named)))
            }
            Ok(r) => self.accept(&r, Some(bytes)),
            Err(_) => {
                self.undecodable += 1;
                Ok(())
            }
        }
    }

    /// A record user space made (from the maps, or a stack's names): encoded only if it is
    /// recorded.
    pub(super) fn take(&mut self, record: Record) -> Result<()> {
        self.accept(&record, None)
    }

    /// `bytes`: the record's encoding, if it came encoded.
    fn accept(&mut self, record: &Record, bytes: Option<&[u8]>) -> Result<()> {
        if let Some(w) = &mut self.recorder {
            match bytes {
                Some(b) => w.record(b)?,
                None => w.record(&record.encode())?,
            }
        }
        self.records += 1;
        self.analysis.push(record);
        self.timeline.push(record);
        match record {
            Record::Thread { exited: true, record } => {
                self.ended.threads.insert((record.header.tid, record.state.life));
            }
            Record::ProcessExit(p) => {
                self.ended.procs.insert((p.header.tgid, p.life));
                self.mounts.forget(p.header.tgid);
            }
            Record::StackSeen(s) => {
                if let Some(n) = &mut self.stacks {
                    n.pending.push((s.hash, s.header.tgid));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Takes the rows of what ended before the last sweep out of the kernel's maps, into
    /// the stream.
    pub(super) fn sweep(&mut self, session: &mut Session) -> Result<()> {
        let e = &mut self.ended;
        let records = session.sweep(&e.ripe_threads, &e.ripe_procs)?;
        e.ripe_threads = std::mem::take(&mut e.threads);
        e.ripe_procs = std::mem::take(&mut e.procs);
        for r in records {
            self.take(r)?;
        }
        Ok(())
    }

    /// Closes the recording with the trace's metadata.
    pub fn finish(&mut self, meta: &TraceMeta) -> Result<()> {
        match self.recorder.take() {
            Some(w) => w.finish(meta),
            None => Ok(()),
        }
    }
}
