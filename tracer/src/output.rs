//! Files the tracer writes (reports, recordings), written whole or not at all: into a
//! temporary file beside the destination, renamed over it only once complete. A trace
//! that fails, or is killed, leaves the previous file as it was.
use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file now, so a path that cannot be written fails before
    /// anything is traced.
    pub fn create(path: &Path, what: &str) -> Result<Self> {
        let name = path
            .file_name()
            .with_context(|| format!("cannot write the {what} to {}: not a file name", path.display()))?;
        let temp = path.with_file_name(format!(".{}.tracer-{}.tmp", name.to_string_lossy(), std::process::id()));
        let file = File::create(&temp).with_context(|| format!("cannot write the {what} to {}", path.display()))?;
        Ok(Self { path: path.to_owned(), temp, out: Some(BufWriter::new(file)) })
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("written after commit")
    }

    /// Flushes the file and puts it in place.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("committed once");
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        file.sync_all().with_context(|| format!("cannot write {}", self.path.display()))?;
        std::fs::rename(&self.temp, &self.path).with_context(|| format!("cannot write {}", self.path.display()))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Not committed: the destination keeps what it had.
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_only_when_committed() {
        let dir = std::env::temp_dir().join(format!("tracer-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        std::fs::write(&path, "old").unwrap();
        let mut f = AtomicFile::create(&path, "report").unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old", "an abandoned write leaves the file alone");
        let mut f = AtomicFile::create(&path, "report").unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        assert!(
            AtomicFile::create(&dir.join("no/such/dir/x"), "report")
                .unwrap_err()
                .to_string()
                .contains("cannot write the report to")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
