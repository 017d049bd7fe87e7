//! `cargo xtask bench`: what tracing costs. `events`: CPU time per kernel event;
//! `load`: throughput kept at full load beside the floor and the peers; `pipeline`: the
//! user-space path (criterion); `--soak 10m`: memory and losses over a long run. Not
//! tests: they assert nothing, they print what they measured.
use crate::{
    apt,
    sh::{Result, build_for, cargo, run},
};

mod events;
mod load;
mod observer;
mod options;
mod soak;

pub use options::Options;
use options::Part;

/// The peers the benchmark measures beside the tracer.
const PEERS: &[&str] = &["libbpf-tools", "bpftrace", "redis-server", "redis-tools"];

pub fn bench(o: &Options) -> Result {
    let bin = build_for("bench")?;
    apt::install(PEERS)?;
    if let Some(length) = o.soak {
        return soak::soak(&bin, length);
    }
    let all = o.part.is_none();
    if all || o.part == Some(Part::Events) {
        events::events(&bin, o)?;
    }
    if all || o.part == Some(Part::Load) {
        load::throughput(&bin, o)?;
    }
    if all || o.part == Some(Part::Pipeline) {
        run(cargo().args(["bench", "--quiet", "--package", "tracer", "--bench", "pipeline"]))?;
    }
    Ok(())
}
