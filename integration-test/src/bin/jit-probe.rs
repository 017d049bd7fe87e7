//! A stand-in for a JIT: machine code written at run time into an anonymous mapping, named
//! only by /tmp/perf-PID.map (as the JVM's perf-map-agent or V8's --perf-prof write it).
//! The code is a leaf that calls nanosleep(2) itself, so each sleep blocks inside it.
//! Prints `{"pid", "sleeps", "symbol"}` when done (the oracle of tests/stacks.rs).
use std::io::Write;

/// The symbol the map gives the code.
const SYMBOL: &str = "jit::sleeper";

/// mov eax, 35 (nanosleep); syscall; ret. Arguments are already in rdi and rsi.
const CODE: [u8; 8] = [0xb8, 35, 0, 0, 0, 0x0f, 0x05, 0xc3];

fn main() {
    let sleeps: usize = std::env::args().nth(1).map_or(20, |a| a.parse().unwrap());
    let pid = std::process::id();
    // SAFETY: a fresh private mapping, written before it is made executable.
    let page = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
        std::ptr::copy_nonoverlapping(CODE.as_ptr(), p.cast(), CODE.len());
        assert_eq!(libc::mprotect(p, 4096, libc::PROT_READ | libc::PROT_EXEC), 0, "mprotect");
        p
    };
    let map = format!("/tmp/perf-{pid}.map");
    let mut f = std::fs::File::create(&map).unwrap();
    writeln!(f, "{:x} {:x} {SYMBOL}", page as usize, CODE.len()).unwrap();
    drop(f);
    // SAFETY: the code above follows the C calling convention and returns nanosleep's result.
    let sleeper: extern "C" fn(*const libc::timespec, *mut libc::timespec) -> i64 =
        unsafe { std::mem::transmute(page) };
    let ts = libc::timespec { tv_sec: 0, tv_nsec: 5_000_000 };
    for _ in 0..sleeps {
        assert_eq!(sleeper(&ts, std::ptr::null_mut()), 0, "nanosleep");
    }
    println!(r#"{{"pid":{pid},"sleeps":{sleeps},"symbol":"{SYMBOL}"}}"#);
    let _ = std::fs::remove_file(map);
}
