//! Where the kernel keeps the few struct members the programs read, from vmlinux BTF (aya
//! has no CO-RE for Rust programs, aya #349). Required ones fail with a clear error;
//! optional ones degrade to [`Offsets::ABSENT`] with a note for the report.
use anyhow::{Context, Result};
use tracer_common::record::Offsets;

use crate::btf::Btf;

/// Offsets, plus one note per optional facility this kernel lacks.
pub fn resolve(btf: &Btf) -> Result<(Offsets, Vec<String>)> {
    let mut notes = Vec::new();
    let required = |s: &str, m: &str| btf.member_offset(s, m).context("tracer does not support this kernel's layout");
    let mut o = Offsets {
        task_pid: required("task_struct", "pid")?,
        task_tgid: required("task_struct", "tgid")?,
        ..Offsets::NONE
    };
    let optional = |members: &[(&str, &str)]| -> Result<Vec<u32>> {
        members.iter().map(|&(s, m)| btf.member_offset(s, m)).collect()
    };
    match optional(&[
        ("task_struct", "files"),
        ("files_struct", "fdt"),
        ("fdtable", "fd"),
        ("fdtable", "max_fds"),
        ("file", "f_inode"),
        ("file", "f_mode"),
        ("inode", "i_mode"),
    ]) {
        Ok(v) => {
            (o.task_files, o.files_fdt, o.fdt_fd, o.fdt_max_fds, o.file_inode, o.file_mode, o.inode_mode) =
                (v[0], v[1], v[2], v[3], v[4], v[5], v[6])
        }
        Err(e) => {
            notes.push(format!("splice legs cannot tell pipes from files ({e:#}): every leg counts as leaving a pipe"))
        }
    }
    match optional(&[("request", "__data_len"), ("request", "cmd_flags")]) {
        Ok(v) => (o.request_data_len, o.request_cmd_flags) = (v[0], v[1]),
        Err(e) => notes.push(format!("disk DMA not measured ({e:#})")),
    }
    match optional(&[("net_device", "flags")]) {
        Ok(v) => o.netdev_flags = v[0],
        Err(e) => notes.push(format!("NIC DMA not measured ({e:#})")),
    }
    match (btf.member_offset("task_struct", "se"), btf.member_offset("sched_entity", "sum_exec_runtime")) {
        (Ok(se), Ok(runtime)) => o.task_exec_runtime = se + runtime,
        (Err(e), _) | (_, Err(e)) => notes.push(format!("on-CPU time is wall time, not the task clock ({e:#})")),
    }
    match optional(&[("task_struct", "sched_info"), ("sched_info", "pcount"), ("sched_info", "run_delay")]) {
        Ok(v) => (o.task_pcount, o.task_run_delay) = (v[0] + v[1], v[0] + v[2]),
        Err(e) => notes.push(format!("time slices and run-queue waits are counted from switch events ({e:#})")),
    }
    match optional(&[
        ("task_struct", "min_flt"),
        ("task_struct", "maj_flt"),
        ("task_struct", "mm"),
        ("mm_struct", "start_brk"),
        ("mm_struct", "brk"),
        ("mm_struct", "mmap_base"),
        ("address_space", "host"),
        ("inode", "i_sb"),
        ("super_block", "s_dev"),
        ("folio", "_flags_1"),
    ]) {
        Ok(v) => {
            (o.task_min_flt, o.task_maj_flt, o.task_mm, o.mm_start_brk, o.mm_brk) = (v[0], v[1], v[2], v[3], v[4]);
            (o.mm_mmap_base, o.mapping_host, o.inode_sb, o.sb_dev, o.folio_flags_1) = (v[5], v[6], v[7], v[8], v[9]);
            match btf.enum_value("PG_head") {
                Ok(bit) => o.pg_head = bit as u32,
                Err(e) => notes.push(format!("page-cache fills count folios, not pages ({e:#})")),
            }
        }
        Err(e) => notes.push(format!("page faults not measured ({e:#})")),
    }
    match optional(&[
        ("inode", "i_dentry"),
        ("dentry", "d_u"),
        ("dentry", "d_parent"),
        ("dentry", "d_name"),
        ("dentry", "d_hash"),
    ]) {
        // d_alias is the first member of the d_u union.
        Ok(v) => {
            (o.inode_dentry, o.dentry_alias, o.dentry_parent, o.dentry_name, o.dentry_hash) =
                (v[0], v[1], v[2], v[3], v[4])
        }
        Err(e) => notes.push(format!("faulted files are named by device and inode only ({e:#})")),
    }
    match optional(&[("sock", "sk_socket"), ("socket", "file"), ("inode", "i_ino")]) {
        Ok(v) => (o.sock_socket, o.socket_file, o.inode_ino) = (v[0], v[1], v[2]),
        Err(e) => notes.push(format!("wakeups are not traced to their socket ({e:#})")),
    }
    Ok((o, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_has_every_member() {
        let (o, notes) = resolve(&Btf::from_sys_fs().unwrap()).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(o.task_pid + 4, o.task_tgid);
        for v in [
            o.task_files,
            o.files_fdt,
            o.fdt_fd,
            o.file_inode,
            o.inode_mode,
            o.request_data_len,
            o.netdev_flags,
            o.sock_socket,
            o.inode_ino,
            o.task_exec_runtime,
            o.task_pcount,
            o.task_run_delay,
            o.task_min_flt,
            o.mm_mmap_base,
            o.sb_dev,
            o.folio_flags_1,
            o.pg_head,
            o.inode_dentry,
            o.dentry_alias,
            o.dentry_name,
        ] {
            assert_ne!(v, Offsets::ABSENT);
        }
    }
}
