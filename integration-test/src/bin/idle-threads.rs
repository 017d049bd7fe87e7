//! `idle-threads N`: N threads, and the main one, asleep until killed (after printing
//! "ready"): a process whose threads never run while it is traced.
fn main() {
    let n: usize = std::env::args().nth(1).map_or(8, |a| a.parse().unwrap());
    for _ in 0..n {
        std::thread::spawn(|| {
            loop {
                std::thread::park();
            }
        });
    }
    println!("ready");
    loop {
        std::thread::park();
    }
}
