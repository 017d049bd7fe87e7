//! The temporary file the file-backed modes map: created in `--dir`, unlinked at once (it
//! lives as long as its fd), and filled with one byte value by pwrite64.
use std::{
    fs::{File, OpenOptions},
    os::fd::AsRawFd,
    path::Path,
};

use super::{args::fail, region::PAGE};
use crate::sys::Sys;

pub fn filled(sys: &mut Sys, dir: &Path, name: &str, pages: usize, byte: u8) -> File {
    let path = dir.join(format!("memlab-{}.{name}", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap_or_else(|e| fail(format_args!("cannot create {} ({e}): pick a writable --dir", path.display())));
    let _ = std::fs::remove_file(&path);
    let content = vec![byte; pages * PAGE];
    if sys.pwrite(file.as_raw_fd(), &content, 0).ok() != Some(content.len()) {
        fail(format_args!("writing {} failed", path.display()));
    }
    file
}
