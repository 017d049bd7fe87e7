//! `fork-cow`: N private anonymous pages written, then fork. The child writes every page:
//! N copy-on-write faults, each a copy (its frames change). After the child has exited,
//! the parent writes every page: N faults again (fork write-protected its PTEs), but each
//! page is the parent's alone by then, so the kernel reuses it (its frames stay).
use serde_json::{Value, json};

use super::{
    args::fail,
    pagemap::{Pagemap, same},
    phase::{Phase, warm_up},
    region::{Region, write_pages},
    report::Report,
};
use crate::sys::{Call, Sys};

/// What the child measured itself and sends back through a pipe.
#[repr(C)]
#[derive(Default)]
struct ChildReport {
    minflt: u64,
    majflt: u64,
    ns: u64,
    copied: u64,
    frames: u64,
}

pub fn run(sys: &mut Sys, pages: usize, scratch: &Region) -> Report {
    let r = Region::anon(sys, pages).unwrap_or_else(|e| fail(format_args!("mmap of {pages} pages: {e}")));
    let pagemap = Pagemap::open(sys);
    let mut before = vec![0u64; pages];
    let mut child_frames = vec![0u64; pages];
    let mut after = vec![0u64; pages];
    warm_up(scratch.addr);
    let touch = Phase::measure(sys, "touch", |_| write_pages(r.addr, pages, 1));
    let frames = pagemap.as_ref().is_some_and(|p| p.frames(sys, &r, &mut before));
    let mut fds = [0i32; 2];
    sys.call(Call::Pipe2, [fds.as_mut_ptr() as usize, libc::O_CLOEXEC as usize, 0, 0, 0, 0])
        .unwrap_or_else(|e| fail(format_args!("pipe2: {e}")));
    let pid = sys.call(Call::Fork, [0; 6]).unwrap_or_else(|e| fail(format_args!("fork: {e}")));
    if pid == 0 {
        child(sys, &r, scratch, &before, &mut child_frames, fds[1]);
    }
    sys.close(fds[1]);
    let mut status = 0i32;
    // SAFETY: plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let args = [pid, &raw mut status as usize, 0, &raw mut usage as usize, 0, 0];
    sys.call(Call::Wait4, args).unwrap_or_else(|e| fail(format_args!("wait4: {e}")));
    let mut report = ChildReport::default();
    let buf = report_bytes(&mut report);
    if sys.read(fds[0], buf).ok() != Some(size_of::<ChildReport>()) || status != 0 {
        fail(format_args!("the child failed (wait status {status})"));
    }
    sys.close(fds[0]);
    warm_up(scratch.addr);
    let write = Phase::measure(sys, "parent_write", |_| write_pages(r.addr, pages, 3));
    let reused =
        (frames && pagemap.as_ref().is_some_and(|p| p.frames(sys, &r, &mut after))).then(|| same(&before, &after));
    let child = json!({
        "minflt": report.minflt,
        "majflt": report.majflt,
        "ns": report.ns,
        "copied": (report.frames != 0).then_some(report.copied),
        "wait4_minflt": usage.ru_minflt,
        "wait4_majflt": usage.ru_majflt,
    });
    if let Some(p) = pagemap {
        p.close(sys);
    }
    r.unmap(sys);
    Report {
        phases: vec![touch, write.fact("reused", reused)],
        extra: vec![("child", child), ("frames_visible", Value::from(frames))],
    }
}

/// The child: writes every page between its own markers, counts the pages whose frame
/// changed (copies), reports, and exits without running any exit handler.
fn child(sys: &mut Sys, r: &Region, scratch: &Region, before: &[u64], frames: &mut [u64], out: i32) -> ! {
    warm_up(scratch.addr);
    let write = Phase::measure(sys, "child_write", |_| write_pages(r.addr, r.pages, 2));
    // Its own pagemap: the parent's fd shows the parent's pages.
    let visible = Pagemap::open(sys).is_some_and(|p| p.frames(sys, r, frames));
    let copied = before.iter().zip(frames.iter()).filter(|(b, a)| **a != 0 && b != a).count() as u64;
    let mut report = ChildReport {
        minflt: write.faults.minflt,
        majflt: write.faults.majflt,
        ns: write.ns,
        copied,
        frames: u64::from(visible),
    };
    let _ = sys.write(out, report_bytes(&mut report));
    // SAFETY: ends the child at once, as a child of a raw fork must.
    unsafe { libc::_exit(0) }
}

fn report_bytes(r: &mut ChildReport) -> &mut [u8] {
    // SAFETY: a repr(C) struct of u64s is plain bytes.
    unsafe { std::slice::from_raw_parts_mut((r as *mut ChildReport).cast(), size_of::<ChildReport>()) }
}
