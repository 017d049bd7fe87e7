//! Faults in many files with paths of very different lengths: `map-files DIR N` creates N
//! one-page files under DIR, alternately deep in long-named directories and right at
//! the top, maps each and touches its page (one file fault each, so the kernel names
//! each file once), a millisecond apart. Prints the files' paths as JSON: every path the
//! tracer reports under DIR must be one of them.
use std::{fs, os::fd::AsRawFd, path::PathBuf, thread, time::Duration};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let n: usize = args.next().map_or(400, |a| a.parse().unwrap());
    let mut paths = Vec::new();
    for i in 0..n {
        let path = if i % 2 == 0 {
            // 6 levels of 40-byte names: a long record, whose bytes a short one must not
            // inherit when the ring buffer wraps.
            let deep: PathBuf = (0..6).map(|l| format!("{l}-{}", "d".repeat(38))).collect();
            dir.join(deep).join(format!("deep-{i}"))
        } else {
            dir.join(format!("f{i}"))
        };
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, [i as u8; 4096]).unwrap();
        let file = fs::File::open(&path).unwrap();
        // SAFETY: a one-page read-only shared mapping of our file, read once, unmapped.
        unsafe {
            let map = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0);
            assert_ne!(map as isize, -1);
            std::hint::black_box(std::ptr::read_volatile(map as *const u8));
            libc::munmap(map, 4096);
        }
        paths.push(format!("{:?}", path.to_str().unwrap()));
        thread::sleep(Duration::from_millis(1));
    }
    println!(r#"{{"files":[{}]}}"#, paths.join(","));
}
