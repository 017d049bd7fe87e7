//! Recordings: the record stream a trace fed its analysis, saved so `tracer report FILE`
//! rebuilds the same report offline, without root.
//!
//! Layout (little-endian): the magic `TRACERv\0`, a u32 format version, then records,
//! each a u32 length and that many bytes (exactly what the kernel or the collector made:
//! see `decode`), then a trailer: a u32 `TRAILER` marker, a u32 length and the trace's
//! metadata as JSON. A file without its trailer was cut short.
use std::{
    fs::File,
    io::{BufReader, Read, Write},
    path::Path,
};

use crate::{analysis::TraceMeta, output::AtomicFile};
use anyhow::{Context, Result, bail};

const MAGIC: &[u8; 8] = b"TRACERv\0";
/// 3: the trailer carries the kernel's coverage (which figures it could not give).
pub const VERSION: u32 = 3;
const TRAILER: u32 = u32::MAX;
/// No record is near this large; a length beyond it means the file is corrupt.
const MAX_RECORD: u32 = 1 << 16;

pub struct Writer {
    out: AtomicFile,
}

impl Writer {
    /// The recording goes in place only once finished: a trace that fails leaves the
    /// previous file as it was.
    pub fn create(path: &Path) -> Result<Self> {
        let mut out = AtomicFile::create(path, "recording")?;
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        Ok(Self { out })
    }

    pub fn record(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(&(bytes.len() as u32).to_le_bytes())?;
        self.out.write_all(bytes)?;
        Ok(())
    }

    pub fn finish(mut self, meta: &TraceMeta) -> Result<()> {
        let json = serde_json::to_vec(meta)?;
        self.out.write_all(&TRAILER.to_le_bytes())?;
        self.out.write_all(&(json.len() as u32).to_le_bytes())?;
        self.out.write_all(&json)?;
        self.out.commit()
    }
}

/// A recording read one record at a time, so a long one never sits in memory whole.
pub struct Reader<R> {
    input: R,
    records: u64,
    meta: Option<TraceMeta>,
}

impl Reader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Reader::new(BufReader::new(file))
            .with_context(|| format!("{} is not a usable tracer recording", path.display()))
    }
}

impl<R: Read> Reader<R> {
    pub fn new(mut input: R) -> Result<Self> {
        let mut magic = [0u8; 8];
        if input.read_exact(&mut magic).is_err() || &magic != MAGIC {
            bail!("it does not start with a tracer recording header (record one with `tracer record` or --record)");
        }
        let version = read_u32(&mut input).context("it is cut short in its header")?;
        if version != VERSION {
            bail!(
                "it is format version {version}; this tracer reads version {VERSION}: replay it with the tracer that made it"
            );
        }
        Ok(Self { input, records: 0, meta: None })
    }

    /// The next record; None once the trailer is read (then [`Reader::meta`] has it).
    /// Every way a file can be wrong is an error saying what is wrong with it; no length
    /// in the file makes it allocate more than one record's worth.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        if self.meta.is_some() {
            return Ok(None);
        }
        let input = &mut self.input;
        let Ok(len) = read_u32(input) else {
            bail!(
                "it is truncated after {} records (no trailer): the trace that wrote it did not finish",
                self.records
            );
        };
        if len == TRAILER {
            let len = read_u32(input).context("it is truncated in its trailer")?;
            if len > MAX_RECORD {
                bail!("its trailer claims {len} bytes: the file is corrupt");
            }
            let mut json = vec![0u8; len as usize];
            input.read_exact(&mut json).context("it is truncated in its trailer")?;
            let meta: TraceMeta = serde_json::from_slice(&json).context("its trailer is corrupt")?;
            let mut rest = [0u8; 1];
            if input.read(&mut rest)? != 0 {
                bail!("bytes follow its trailer: the file is corrupt");
            }
            self.meta = Some(meta);
            return Ok(None);
        }
        if len == 0 || len > MAX_RECORD {
            bail!("record {} claims {len} bytes: the file is corrupt", self.records + 1);
        }
        let mut bytes = vec![0u8; len as usize];
        input.read_exact(&mut bytes).with_context(|| format!("it is truncated inside record {}", self.records + 1))?;
        self.records += 1;
        Ok(Some(bytes))
    }

    /// The trace's metadata, once every record was read.
    pub fn meta(&self) -> Option<&TraceMeta> {
        self.meta.as_ref()
    }
}

/// Reads a whole recording at once (tests).
pub fn parse(input: &mut impl Read) -> Result<(Vec<Vec<u8>>, TraceMeta)> {
    let mut reader = Reader::new(input)?;
    let mut records = Vec::new();
    while let Some(r) = reader.next_record()? {
        records.push(r);
    }
    let meta = reader.meta.take().context("no trailer")?;
    Ok((records, meta))
}

fn read_u32(input: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let path = std::env::temp_dir().join(format!(
            "tracer-rec-{}-{:?}.bin",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut w = Writer::create(&path).unwrap();
        w.record(b"first").unwrap();
        w.record(&[7u8; 300]).unwrap();
        let meta = TraceMeta {
            pid: 42,
            command: "x --y".into(),
            duration_ns: 9,
            missed_events: Some(2),
            notes: vec!["n".into()],
            ..TraceMeta::default()
        };
        w.finish(&meta).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        bytes
    }

    #[test]
    fn round_trips() {
        let (records, meta) = parse(&mut sample().as_slice()).unwrap();
        assert_eq!(records, [b"first".to_vec(), vec![7u8; 300]]);
        assert_eq!((meta.pid, meta.command.as_str(), meta.missed_events), (42, "x --y", Some(2)));
    }

    #[test]
    fn rejects_every_kind_of_bad_file() {
        let good = sample();
        let err = |bytes: &[u8]| format!("{:#}", parse(&mut &bytes[..]).unwrap_err());
        assert!(err(b"").contains("does not start with a tracer recording header"));
        assert!(err(b"PNG\x89....").contains("does not start with a tracer recording header"));
        let mut v9 = good.clone();
        v9[8] = 9;
        assert!(err(&v9).contains("format version 9"));
        for cut in [12, 14, 20, good.len() - 3] {
            assert!(err(&good[..cut]).contains("truncated"), "cut at {cut}: {}", err(&good[..cut]));
        }
        let mut huge = good.clone();
        huge[12..16].copy_from_slice(&(1u32 << 30).to_le_bytes());
        assert!(err(&huge).contains("claims"));
        let mut extra = good.clone();
        extra.push(0);
        assert!(err(&extra).contains("follow its trailer"));
    }

    /// Hostile input: every truncation, random bytes, and lengths that claim the world.
    /// The reader must answer each with an error (or the records), never panic, and never
    /// allocate past one record's limit.
    #[test]
    fn no_input_makes_the_reader_panic_or_allocate_without_bound() {
        let good = sample();
        let read_all = |bytes: &[u8]| {
            let mut r = Reader::new(bytes)?;
            while let Some(rec) = r.next_record()? {
                assert!(rec.len() <= MAX_RECORD as usize);
                let _ = crate::decode::decode(&rec);
            }
            anyhow::Ok(())
        };
        for cut in 0..good.len() {
            assert!(read_all(&good[..cut]).is_err(), "a file cut at {cut} of {} must be refused", good.len());
        }
        assert!(read_all(&good).is_ok());
        // A xorshift stream: the same "random" files on every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2000 {
            let len = (next() % 512) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 2 == 0 && bytes.len() >= 12 {
                // A valid header, so the record loop meets the garbage.
                bytes[..8].copy_from_slice(MAGIC);
                bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
            }
            let _ = read_all(&bytes);
        }
        // Huge lengths: a record, then the trailer, claiming 4 GiB.
        let mut huge = good[..12].to_vec();
        huge.extend(u32::MAX.wrapping_sub(1).to_le_bytes());
        assert!(read_all(&huge).unwrap_err().to_string().contains("claims"));
        let mut trailer = good[..12].to_vec();
        trailer.extend(TRAILER.to_le_bytes());
        trailer.extend(u32::MAX.to_le_bytes());
        assert!(read_all(&trailer).unwrap_err().to_string().contains("claims"));
    }
}
