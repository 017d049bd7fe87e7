//! tracefs: where it is, and the field layout of this kernel's tracepoints.
//!
//! Offsets differ between kernel versions (6.18 turned `sched_process_fork`'s comms into
//! `__data_loc`), so they are read from each tracepoint's `format` file at start-up instead
//! of being compiled in.
use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use tracer_common::record::Offsets;

const MOUNT_POINT: &str = "/sys/kernel/tracing";
const LEGACY: &str = "/sys/kernel/debug/tracing";

/// The tracefs root, mounting it at /sys/kernel/tracing when nothing is mounted there.
pub fn locate_or_mount() -> Result<PathBuf> {
    for dir in [MOUNT_POINT, LEGACY] {
        if Path::new(dir).join("events").is_dir() {
            return Ok(PathBuf::from(dir));
        }
    }
    let err = mount_tracefs();
    if Path::new(MOUNT_POINT).join("events").is_dir() {
        return Ok(PathBuf::from(MOUNT_POINT));
    }
    bail!(
        "tracefs is not mounted and mounting it at {MOUNT_POINT} failed ({}): run `mount -t tracefs nodev {MOUNT_POINT}` as root",
        err.map_or_else(|| "no events directory after mount".to_owned(), |e| e.to_string())
    )
}

fn mount_tracefs() -> Option<std::io::Error> {
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    let (src, dst, fstype) = (c("nodev"), c(MOUNT_POINT), c("tracefs"));
    // SAFETY: valid NUL-terminated strings; no data argument.
    let rc = unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
    (rc != 0).then(std::io::Error::last_os_error)
}

/// One `field:` line of a format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: u32,
    pub size: u32,
}

/// Parses the `field:` lines of a tracepoint `format` file.
pub fn parse_format(text: &str) -> Vec<Field> {
    text.lines().filter_map(parse_field_line).collect()
}

fn parse_field_line(line: &str) -> Option<Field> {
    let mut decl = None;
    let (mut offset, mut size) = (None, None);
    for part in line.trim().split(';') {
        let (key, value) = part.trim().split_once(':')?;
        match key {
            "field" => decl = Some(value.trim()),
            "offset" => offset = value.trim().parse().ok(),
            "size" => size = value.trim().parse().ok(),
            _ => {}
        }
        if decl.is_some() && offset.is_some() && size.is_some() {
            break;
        }
    }
    // "char prev_comm[16]" -> prev_comm; "__data_loc char[] name" -> name.
    let last = decl?.rsplit(|c: char| c.is_whitespace() || c == '*').next()?;
    let name = last.split('[').next()?.to_owned();
    Some(Field { name, offset: offset?, size: size? })
}

/// A tracepoint's fields, or a clear error when this kernel does not have it.
pub fn fields(tracefs: &Path, category: &str, event: &str) -> Result<Vec<Field>> {
    let path = tracefs.join("events").join(category).join(event).join("format");
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "tracepoint {category}:{event} is missing on this kernel (cannot read {}): tracer needs a kernel with it",
            path.display()
        )
    })?;
    Ok(parse_format(&text))
}

fn offset_of(fields: &[Field], tp: &str, name: &str, size: u32) -> Result<u32> {
    match fields.iter().find(|f| f.name == name) {
        Some(f) if f.size == size => Ok(f.offset),
        Some(f) => bail!("tracepoint {tp} field {name} is {} bytes on this kernel, tracer expects {size}", f.size),
        None => {
            bail!("tracepoint {tp} has no field {name} on this kernel: tracer does not support this kernel's layout")
        }
    }
}

/// Every offset the kernel programs need, from this kernel's format files.
pub fn offsets(tracefs: &Path) -> Result<Offsets> {
    let switch = fields(tracefs, "sched", "sched_switch")?;
    let newtask = fields(tracefs, "task", "task_newtask")?;
    let exit = fields(tracefs, "sched", "sched_process_exit")?;
    let (sw, nt, ex) = ("sched:sched_switch", "task:task_newtask", "sched:sched_process_exit");
    Ok(Offsets {
        switch_prev_pid: offset_of(&switch, sw, "prev_pid", 4)?,
        switch_prev_state: offset_of(&switch, sw, "prev_state", 8)?,
        switch_next_pid: offset_of(&switch, sw, "next_pid", 4)?,
        newtask_pid: offset_of(&newtask, nt, "pid", 4)?,
        newtask_clone_flags: offset_of(&newtask, nt, "clone_flags", 8)?,
        exit_pid: offset_of(&exit, ex, "pid", 4)?,
        // Only since 6.16; without it a finished process stays in the target set.
        exit_group_dead: offset_of(&exit, ex, "group_dead", 1).unwrap_or(Offsets::ABSENT),
        _pad: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHED_SWITCH: &str = "name: sched_switch
ID: 318
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
\tfield:__data_loc char[] child_comm;\toffset:16;\tsize:4;\tsigned:0;
\tfield:const char * filename;\toffset:64;\tsize:8;\tsigned:0;

print fmt: \"prev_comm=%s\"";

    #[test]
    fn parses_names_offsets_and_sizes() {
        let f = parse_format(SCHED_SWITCH);
        let get = |n: &str| f.iter().find(|x| x.name == n).cloned().unwrap();
        assert_eq!(get("prev_comm"), Field { name: "prev_comm".into(), offset: 8, size: 16 });
        assert_eq!(get("prev_pid").offset, 24);
        assert_eq!(get("prev_state"), Field { name: "prev_state".into(), offset: 32, size: 8 });
        assert_eq!(get("child_comm").offset, 16);
        assert_eq!(get("filename").offset, 64);
        assert_eq!(f.len(), 8);
    }

    #[test]
    fn offset_checks_size_and_presence() {
        let f = parse_format(SCHED_SWITCH);
        assert_eq!(offset_of(&f, "x", "next_pid", 4).unwrap(), 56);
        assert!(offset_of(&f, "x", "next_pid", 8).unwrap_err().to_string().contains("4 bytes"));
        assert!(offset_of(&f, "x", "nope", 4).unwrap_err().to_string().contains("no field nope"));
    }
}
