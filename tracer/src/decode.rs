//! Bytes from the ring buffer (or a recording) -> typed records. Pure and total: any input
//! gives a record or a [`DecodeError`], never a panic.
use std::mem::size_of;

use tracer_common::record::{
    CounterTotal, CpuSlice, EpollRecord, FaultTotals, FileNameRecord, Header, IdleThread, OffCpuTotals, PathTotals,
    ProcessExit, RecordKind, SoftirqSlice, SoftirqTotals, StackSeen, SwitchTotals, SyscallSlice, SyscallTotals,
    ThreadRecord, WakeEdgeTotals, WakeEvent,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A thread's switch counters; `exited` when it is final (the thread's last switch).
    Thread {
        exited: bool,
        record: ThreadRecord,
    },
    Epoll(EpollRecord),
    Syscall(SyscallTotals),
    Path(PathTotals),
    Counter(CounterTotal),
    WakeEdge(WakeEdgeTotals),
    Switches(SwitchTotals),
    Softirq(SoftirqTotals),
    Faults(FaultTotals),
    /// Boxed: a kilobyte, and rare.
    FileName(Box<FileNameRecord>),
    ProcessExit(ProcessExit),
    IdleThread(IdleThread),
    StackSeen(StackSeen),
    OffCpu(OffCpuTotals),
    StackNames(Box<StackNames>),
    /// Timeline events (`--perfetto`).
    CpuSlice(CpuSlice),
    SyscallSlice(SyscallSlice),
    Wake(WakeEvent),
    SoftirqSlice(SoftirqSlice),
}

impl Record {
    /// The record's bytes, as the kernel lays it out (what a recording keeps): `decode`
    /// gives the record back.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Thread { record, .. } => encode(record).to_vec(),
            Self::Epoll(r) => encode(r).to_vec(),
            Self::Syscall(r) => encode(r).to_vec(),
            Self::Path(r) => encode(r).to_vec(),
            Self::Counter(r) => encode(r).to_vec(),
            Self::WakeEdge(r) => encode(r).to_vec(),
            Self::Switches(r) => encode(r).to_vec(),
            Self::Softirq(r) => encode(r).to_vec(),
            Self::Faults(r) => encode(r).to_vec(),
            Self::FileName(r) => encode(r.as_ref()).to_vec(),
            Self::ProcessExit(r) => encode(r).to_vec(),
            Self::IdleThread(r) => encode(r).to_vec(),
            Self::StackSeen(r) => encode(r).to_vec(),
            Self::OffCpu(r) => encode(r).to_vec(),
            Self::StackNames(n) => n.encode(),
            Self::CpuSlice(r) => encode(r).to_vec(),
            Self::SyscallSlice(r) => encode(r).to_vec(),
            Self::Wake(r) => encode(r).to_vec(),
            Self::SoftirqSlice(r) => encode(r).to_vec(),
        }
    }
}

/// A stack's frames as user space named them ([`RecordKind::StackNames`]), innermost
/// first. Encoded after the header as the hash (u64), `user` (u32), the process (u32),
/// the frame count (u32), then each frame as a u16 length and its UTF-8 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackNames {
    pub hash: u64,
    pub user: bool,
    pub pid: u32,
    pub frames: Vec<String>,
}

/// Frames beyond this many bytes of names are cut (a record must stay below 64 KiB).
const NAMES_BYTES: usize = 48 << 10;

impl StackNames {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode(&snapshot_header(RecordKind::StackNames)).to_vec();
        out.extend_from_slice(&self.hash.to_le_bytes());
        out.extend_from_slice(&u32::from(self.user).to_le_bytes());
        out.extend_from_slice(&self.pid.to_le_bytes());
        let count_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        let mut count = 0u32;
        for f in &self.frames {
            let name = &f.as_bytes()[..f.len().min(u16::MAX as usize)];
            if out.len() + 2 + name.len() > NAMES_BYTES {
                break;
            }
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name);
            count += 1;
        }
        out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bad = DecodeError::Malformed(RecordKind::StackNames as u32);
        let mut rest = bytes.get(size_of::<Header>()..).ok_or(bad.clone())?;
        let mut take = |n: usize| -> Result<&[u8], DecodeError> {
            let (head, tail) = rest.split_at_checked(n).ok_or(bad.clone())?;
            rest = tail;
            Ok(head)
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or_default());
        let hash = u64::from_le_bytes(take(8)?.try_into().unwrap_or_default());
        let user = u32_at(take(4)?) != 0;
        let pid = u32_at(take(4)?);
        let count = u32_at(take(4)?);
        let mut frames = Vec::new();
        for _ in 0..count {
            let len = u16::from_le_bytes(take(2)?.try_into().unwrap_or_default()) as usize;
            frames.push(String::from_utf8_lossy(take(len)?).into_owned());
        }
        Ok(Self { hash, user, pid, frames })
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {got} bytes is shorter than its {need}-byte header")]
    NotEnoughBytes { need: usize, got: usize },
    #[error("record of kind {kind} has {got} bytes, expected {want}")]
    SizeMismatch { kind: u32, want: usize, got: usize },
    #[error("unknown record kind {0}")]
    Unsupported(u32),
    #[error("record of kind {0} is malformed")]
    Malformed(u32),
}

pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
    let header: Header = read(bytes)?;
    let kind = header.kind;
    Ok(match RecordKind::from_u32(kind) {
        Some(k @ (RecordKind::ThreadExit | RecordKind::ThreadSnapshot)) => {
            Record::Thread { exited: k == RecordKind::ThreadExit, record: read_exact(bytes, kind)? }
        }
        Some(RecordKind::EpollCycle) => Record::Epoll(read_exact(bytes, kind)?),
        Some(RecordKind::SyscallTotals) => Record::Syscall(read_exact(bytes, kind)?),
        Some(RecordKind::PathTotals) => Record::Path(read_exact(bytes, kind)?),
        Some(RecordKind::CounterTotal) => Record::Counter(read_exact(bytes, kind)?),
        Some(RecordKind::WakeEdgeTotals) => Record::WakeEdge(read_exact(bytes, kind)?),
        Some(RecordKind::SwitchTotals) => Record::Switches(read_exact(bytes, kind)?),
        Some(RecordKind::SoftirqTotals) => Record::Softirq(read_exact(bytes, kind)?),
        Some(RecordKind::FaultTotals) => Record::Faults(read_exact(bytes, kind)?),
        Some(RecordKind::FileName) => Record::FileName(Box::new(read_exact(bytes, kind)?)),
        Some(RecordKind::ProcessExit) => Record::ProcessExit(read_exact(bytes, kind)?),
        Some(RecordKind::IdleThread) => Record::IdleThread(read_exact(bytes, kind)?),
        Some(RecordKind::StackSeen) => Record::StackSeen(read_exact(bytes, kind)?),
        Some(RecordKind::OffCpuTotals) => Record::OffCpu(read_exact(bytes, kind)?),
        Some(RecordKind::StackNames) => Record::StackNames(Box::new(StackNames::decode(bytes)?)),
        Some(RecordKind::CpuSlice) => Record::CpuSlice(read_exact(bytes, kind)?),
        Some(RecordKind::SyscallSlice) => Record::SyscallSlice(read_exact(bytes, kind)?),
        Some(RecordKind::WakeEvent) => Record::Wake(read_exact(bytes, kind)?),
        Some(RecordKind::SoftirqSlice) => Record::SoftirqSlice(read_exact(bytes, kind)?),
        None => return Err(DecodeError::Unsupported(kind)),
    })
}

/// The bytes of a record, as the kernel lays it out (used for snapshots and recordings).
pub fn encode<T: aya::Pod>(record: &T) -> &[u8] {
    // SAFETY: `Pod` types are plain integers with no padding; every byte is initialised.
    unsafe { std::slice::from_raw_parts((record as *const T).cast::<u8>(), size_of::<T>()) }
}

fn read<T: aya::Pod>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() < size_of::<T>() {
        return Err(DecodeError::NotEnoughBytes { need: size_of::<T>(), got: bytes.len() });
    }
    // SAFETY: length checked; `Pod` accepts any bit pattern; unaligned read.
    Ok(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
}

fn read_exact<T: aya::Pod>(bytes: &[u8], kind: u32) -> Result<T, DecodeError> {
    if bytes.len() != size_of::<T>() {
        return Err(DecodeError::SizeMismatch { kind, want: size_of::<T>(), got: bytes.len() });
    }
    read(bytes)
}

/// A header for records user space makes from map snapshots.
pub fn snapshot_header(kind: RecordKind) -> Header {
    Header { kind: kind as u32, ..Header::default() }
}

#[cfg(test)]
mod tests {
    use tracer_common::record::{SwitchCounts, ThreadState};

    use super::*;

    fn thread(kind: RecordKind) -> ThreadRecord {
        ThreadRecord {
            header: Header { kind: kind as u32, cpu: 1, tid: 42, tgid: 40, ts_ns: 123 },
            state: ThreadState {
                tgid: 40,
                comm: *b"worker\0\0\0\0\0\0\0\0\0\0",
                switches: SwitchCounts { voluntary: 7, involuntary: 3 },
                ..ThreadState::default()
            },
        }
    }

    #[test]
    fn stack_names_round_trip_and_refuse_truncation() {
        let n =
            StackNames {
                hash: 77, user: true, pid: 9, frames: vec!["main".into(), "épée::run".into(), String::new()]
            };
        let bytes = n.encode();
        assert_eq!(decode(&bytes), Ok(Record::StackNames(Box::new(n))));
        for cut in size_of::<Header>()..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let huge = StackNames { frames: vec!["x".repeat(1000); 200], ..StackNames::default() };
        let bytes = huge.encode();
        assert!(bytes.len() <= NAMES_BYTES);
        let Ok(Record::StackNames(back)) = decode(&bytes) else { panic!() };
        assert!(back.frames.len() < 200 && back.frames.iter().all(|f| f.len() == 1000));
    }

    #[test]
    fn encode_decode_round_trip() {
        for (kind, exited) in [(RecordKind::ThreadExit, true), (RecordKind::ThreadSnapshot, false)] {
            let r = thread(kind);
            assert_eq!(decode(encode(&r)), Ok(Record::Thread { exited, record: r }));
        }
        let e = EpollRecord { header: snapshot_header(RecordKind::EpollCycle), epfd: 5, ret: 3, ..Default::default() };
        assert_eq!(decode(encode(&e)), Ok(Record::Epoll(e)));
        let mut s = SyscallTotals { header: snapshot_header(RecordKind::SyscallTotals), nr: 232, ..Default::default() };
        s.stat.latency[4] = 9;
        assert_eq!(decode(encode(&s)), Ok(Record::Syscall(s)));
        let p = PathTotals { header: snapshot_header(RecordKind::PathTotals), path: 2, ..Default::default() };
        assert_eq!(decode(encode(&p)), Ok(Record::Path(p)));
        let c = CounterTotal {
            header: snapshot_header(RecordKind::CounterTotal),
            index: 1,
            value: 7,
            ..Default::default()
        };
        assert_eq!(decode(encode(&c)), Ok(Record::Counter(c)));
        let w = WakeEdgeTotals { header: snapshot_header(RecordKind::WakeEdgeTotals), ..Default::default() };
        assert_eq!(decode(encode(&w)), Ok(Record::WakeEdge(w)));
        let sw = SwitchTotals { header: snapshot_header(RecordKind::SwitchTotals), nr: 511, ..Default::default() };
        assert_eq!(decode(encode(&sw)), Ok(Record::Switches(sw)));
        let si = SoftirqTotals {
            header: snapshot_header(RecordKind::SoftirqTotals),
            vector: 3,
            cpu: 1,
            ..Default::default()
        };
        assert_eq!(decode(encode(&si)), Ok(Record::Softirq(si)));
        let f = FaultTotals { header: snapshot_header(RecordKind::FaultTotals), ..Default::default() };
        assert_eq!(decode(encode(&f)), Ok(Record::Faults(f)));
        let x = ProcessExit { header: snapshot_header(RecordKind::ProcessExit), life: 9, _pad: 0 };
        assert_eq!(decode(encode(&x)), Ok(Record::ProcessExit(x)));
        let mut m = FileNameRecord { header: snapshot_header(RecordKind::FileName), ino: 5, ..Default::default() };
        m.path[..4].copy_from_slice(b"/x/y");
        assert_eq!(decode(encode(&m)), Ok(Record::FileName(Box::new(m))));
    }

    /// The records user space makes from the maps go to the analysis as they are, and
    /// into a recording encoded: decoding the encoding gives the same record.
    #[test]
    fn every_record_encodes_to_what_decodes_back() {
        let h = snapshot_header;
        let records = [
            Record::Thread { exited: false, record: thread(RecordKind::ThreadSnapshot) },
            Record::Thread { exited: true, record: thread(RecordKind::ThreadExit) },
            Record::Epoll(EpollRecord { header: h(RecordKind::EpollCycle), epfd: 5, ..Default::default() }),
            Record::Syscall(SyscallTotals { header: h(RecordKind::SyscallTotals), nr: 3, ..Default::default() }),
            Record::Path(PathTotals { header: h(RecordKind::PathTotals), path: 1, ..Default::default() }),
            Record::Counter(CounterTotal { header: h(RecordKind::CounterTotal), value: 9, ..Default::default() }),
            Record::WakeEdge(WakeEdgeTotals { header: h(RecordKind::WakeEdgeTotals), ..Default::default() }),
            Record::Switches(SwitchTotals { header: h(RecordKind::SwitchTotals), nr: 7, ..Default::default() }),
            Record::Softirq(SoftirqTotals { header: h(RecordKind::SoftirqTotals), cpu: 1, ..Default::default() }),
            Record::Faults(FaultTotals { header: h(RecordKind::FaultTotals), ..Default::default() }),
            Record::FileName(Box::new(FileNameRecord { header: h(RecordKind::FileName), ..Default::default() })),
            Record::ProcessExit(ProcessExit { header: h(RecordKind::ProcessExit), life: 2, _pad: 0 }),
            Record::IdleThread(IdleThread { header: h(RecordKind::IdleThread), state: b'S', ..Default::default() }),
            Record::StackSeen(StackSeen { header: h(RecordKind::StackSeen), hash: 5 }),
            Record::OffCpu(OffCpuTotals { header: h(RecordKind::OffCpuTotals), ..Default::default() }),
            Record::StackNames(Box::new(StackNames { hash: 1, user: true, pid: 2, frames: vec!["f".into()] })),
            Record::CpuSlice(CpuSlice { header: h(RecordKind::CpuSlice), start_ns: 4, ..Default::default() }),
            Record::SyscallSlice(SyscallSlice { header: h(RecordKind::SyscallSlice), ..Default::default() }),
            Record::Wake(WakeEvent { header: h(RecordKind::WakeEvent), ..Default::default() }),
            Record::SoftirqSlice(SoftirqSlice { header: h(RecordKind::SoftirqSlice), ..Default::default() }),
        ];
        for r in records {
            assert_eq!(decode(&r.encode()).as_ref(), Ok(&r));
        }
    }

    #[test]
    fn rejects_short_long_and_unknown_records() {
        let r = thread(RecordKind::ThreadExit);
        let bytes = encode(&r);
        assert_eq!(decode(&bytes[..10]), Err(DecodeError::NotEnoughBytes { need: 24, got: 10 }));
        assert!(matches!(decode(&bytes[..30]), Err(DecodeError::SizeMismatch { kind: 1, .. })));
        let mut long = bytes.to_vec();
        long.push(0);
        assert!(matches!(decode(&long), Err(DecodeError::SizeMismatch { .. })));
        let mut unknown = bytes.to_vec();
        unknown[0] = 99;
        assert_eq!(decode(&unknown), Err(DecodeError::Unsupported(99)));
    }
}
