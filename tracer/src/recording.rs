//! Recordings: the record stream a trace fed its analysis, saved so `tracer report FILE`
//! rebuilds the same report offline, without root.
//!
//! Layout (little-endian): the magic `TRACERv\0`, a u32 format version, then records,
//! each a u32 length and that many bytes (exactly what the kernel or the collector made:
//! see `decode`), then a trailer: a u32 `TRAILER` marker, a u32 length and the trace's
//! metadata as JSON. A file without its trailer was cut short.
use std::{
    fs::File,
    io::{BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
};

use crate::analysis::TraceMeta;
use anyhow::{Context, Result, bail};

const MAGIC: &[u8; 8] = b"TRACERv\0";
/// 3: the trailer carries the kernel's coverage (which figures it could not give).
pub const VERSION: u32 = 3;
const TRAILER: u32 = u32::MAX;
/// No record is near this large; a length beyond it means the file is corrupt.
const MAX_RECORD: u32 = 1 << 16;

pub struct Writer {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Writer {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("cannot write the recording to {}", path.display()))?;
        let mut out = BufWriter::new(file);
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        Ok(Self { path: path.to_owned(), out })
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
        self.out.flush().with_context(|| format!("cannot write the recording to {}", self.path.display()))
    }
}

/// Reads a whole recording: its records, in order, and its metadata. Every way a file
/// can be wrong is an error naming the file and what is wrong with it.
pub fn read(path: &Path) -> Result<(Vec<Vec<u8>>, TraceMeta)> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&mut BufReader::new(file)).with_context(|| format!("{} is not a usable tracer recording", path.display()))
}

pub fn parse(input: &mut impl Read) -> Result<(Vec<Vec<u8>>, TraceMeta)> {
    let mut magic = [0u8; 8];
    if input.read_exact(&mut magic).is_err() || &magic != MAGIC {
        bail!("it does not start with a tracer recording header (record one with `tracer record` or --record)");
    }
    let version = read_u32(input).context("it is cut short in its header")?;
    if version != VERSION {
        bail!(
            "it is format version {version}; this tracer reads version {VERSION}: replay it with the tracer that made it"
        );
    }
    let mut records = Vec::new();
    loop {
        let Ok(len) = read_u32(input) else {
            bail!(
                "it is truncated after {} records (no trailer): the trace that wrote it did not finish",
                records.len()
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
            let mut rest = Vec::new();
            input.read_to_end(&mut rest)?;
            if !rest.is_empty() {
                bail!("{} bytes follow its trailer: the file is corrupt", rest.len());
            }
            return Ok((records, meta));
        }
        if len == 0 || len > MAX_RECORD {
            bail!("record {} claims {len} bytes: the file is corrupt", records.len() + 1);
        }
        let mut bytes = vec![0u8; len as usize];
        input.read_exact(&mut bytes).with_context(|| format!("it is truncated inside record {}", records.len() + 1))?;
        records.push(bytes);
    }
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
}
