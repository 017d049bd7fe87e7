//! Page faults with known causes, and the program's own account (the oracle of
//! tests/faults.rs): map FILE and read one byte of every page (cold: after dropping the
//! file from the page cache), then write every page of an anonymous region (huge pages
//! refused, so each page faults once). Prints getrusage and /proc/self/stat counts.
use std::{fs::File, os::fd::AsRawFd};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE");
    let anon_pages: usize = args.next().map_or(1000, |a| a.parse().unwrap());
    let cold = args.next().is_some_and(|a| a == "--cold");
    let file = File::open(&path).unwrap();
    let len = file.metadata().unwrap().len() as usize;
    let fd = file.as_raw_fd();
    let page = 4096;
    // SAFETY: plain syscalls on this program's fd and mappings; every access is in bounds.
    unsafe {
        if cold {
            libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED);
        }
        let map = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, fd, 0) as *const u8;
        assert_ne!(map as isize, -1);
        let mut sum = 0u64;
        // The faults this loop takes are the file's, and only they: the loop's own code and
        // stack were touched before.
        let before = faults();
        for off in (0..len).step_by(page) {
            sum = sum.wrapping_add(u64::from(std::ptr::read_volatile(map.add(off))));
        }
        let file_faults = faults() - before;
        libc::munmap(map as *mut _, len);
        let anon_len = anon_pages * page;
        let anon = libc::mmap(
            std::ptr::null_mut(),
            anon_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        ) as *mut u8;
        assert_ne!(anon as isize, -1);
        libc::madvise(anon.cast(), anon_len, libc::MADV_NOHUGEPAGE);
        for off in (0..anon_len).step_by(page) {
            std::ptr::write_volatile(anon.add(off), 1);
        }
        libc::munmap(anon.cast(), anon_len);
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let f: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        println!(
            r#"{{"pid":{},"file_pages":{},"file_faults":{file_faults},"anon_pages":{anon_pages},"minflt":{},"majflt":{},"stat_minflt":{},"stat_majflt":{},"sum":{sum}}}"#,
            std::process::id(),
            len.div_ceil(page),
            ru.ru_minflt,
            ru.ru_majflt,
            f[7],
            f[9]
        );
    }
}

/// This process's page faults so far (minor + major), from getrusage.
fn faults() -> i64 {
    // SAFETY: a zeroed rusage is valid; an out pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_minflt + ru.ru_majflt
}
