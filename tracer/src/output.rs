//! Files the tracer writes (reports, recordings), written whole or not at all: into an
//! unnamed file in the destination's directory (O_TMPFILE), linked and renamed over the
//! destination only once complete. A trace that fails, or is killed, leaves the previous
//! file as it was and no stray file behind. A destination that is not a regular file (a
//! device such as /dev/null, a pipe) is written in place: renaming over it would replace
//! it.
use std::{
    fs::{File, OpenOptions},
    io::{BufWriter, Write},
    os::unix::fs::OpenOptionsExt,
    os::unix::io::AsRawFd,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

#[derive(Debug)]
pub struct AtomicFile {
    /// Where the file goes once complete (None: written in place).
    dest: Option<PathBuf>,
    /// A named temporary file, where the filesystem has no O_TMPFILE (removed if the
    /// write is abandoned).
    named: Option<PathBuf>,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Opens the file now, so a path that cannot be written fails before anything is
    /// traced.
    pub fn create(path: &Path, what: &str) -> Result<Self> {
        let cannot = || format!("cannot write the {what} to {}", path.display());
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            let file = OpenOptions::new().write(true).open(path).with_context(cannot)?;
            return Ok(Self { dest: None, named: None, out: Some(BufWriter::new(file)) });
        }
        // A symlink is followed: its target is what gets replaced.
        let dest = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        match OpenOptions::new().write(true).mode(0o666).custom_flags(libc::O_TMPFILE).open(&dir) {
            Ok(file) => Ok(Self { dest: Some(dest), named: None, out: Some(BufWriter::new(file)) }),
            // No O_TMPFILE on this filesystem (EOPNOTSUPP; EISDIR before Linux 3.11).
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR)) => {
                let temp = temp_name(&dest);
                let file = File::create(&temp).with_context(cannot)?;
                Ok(Self { dest: Some(dest), named: Some(temp), out: Some(BufWriter::new(file)) })
            }
            Err(e) => Err(e).with_context(cannot),
        }
    }

    fn writer(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("written after commit")
    }

    /// Flushes the file and puts it in place.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("committed once");
        let shown = self.dest.as_deref().map_or_else(String::new, |d| d.display().to_string());
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .with_context(|| format!("cannot write {shown}"))?;
        let Some(dest) = self.dest.clone() else { return Ok(()) };
        file.sync_all().with_context(|| format!("cannot write {shown}"))?;
        if let Some(temp) = self.named.take() {
            return std::fs::rename(&temp, &dest).with_context(|| format!("cannot write {shown}"));
        }
        // Name the unnamed file beside the destination, then rename it over.
        let temp = temp_name(&dest);
        let proc_fd = format!("/proc/self/fd/{}\0", file.as_raw_fd());
        let temp_c = std::ffi::CString::new(temp.as_os_str().as_encoded_bytes()).context("a path with a NUL byte")?;
        // SAFETY: NUL-terminated paths; linkat only reads them.
        let linked = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                proc_fd.as_ptr().cast(),
                libc::AT_FDCWD,
                temp_c.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if linked != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| format!("cannot write {shown}"));
        }
        std::fs::rename(&temp, &dest).with_context(|| format!("cannot write {shown}")).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }
}

/// `.NAME.tracer-PID.tmp` beside `dest`.
fn temp_name(dest: &Path) -> PathBuf {
    let name = dest.file_name().map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.tracer-{}.tmp", std::process::id()))
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Abandoned: a named temporary file goes (an unnamed one vanishes by itself).
        if let Some(temp) = &self.named {
            let _ = std::fs::remove_file(temp);
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
        // Through a symlink: the file it points at is replaced, the link stays.
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let mut f = AtomicFile::create(&link, "report").unwrap();
        f.write_all(b"via link").unwrap();
        f.commit().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "via link");
        let err = AtomicFile::create(&dir.join("no/such/dir/x"), "report").unwrap_err().to_string();
        assert!(err.contains("cannot write the report to"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_device_is_written_in_place_never_replaced() {
        let mut f = AtomicFile::create(Path::new("/dev/null"), "report").unwrap();
        f.write_all(b"gone").unwrap();
        f.commit().unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "/dev/null is still a device");
    }
}
