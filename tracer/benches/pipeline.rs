//! The user-space path — decode, then fold into the analysis, through the same Consumer a
//! live trace uses — on a record stream shaped like an epoll server's trace: mostly epoll
//! cycles, some thread exits, a few file mappings. Reports records per second, to compare
//! with the kernel's record rate under load (`cargo xtask bench`).
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracer::{collect::Consumer, decode::encode};
use tracer_common::record::{
    EpollRecord, FileNameRecord, Header, RecordKind, ThreadRecord, ThreadState, WAKER_SOFTIRQ, Waker,
};

const RECORDS: usize = 100_000;

fn stream() -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            let tid = 1000 + (i % 8) as u32;
            let header = |kind: RecordKind| Header {
                kind: kind as u32,
                cpu: (i % 2) as u32,
                tid,
                tgid: 1000,
                ts_ns: i as u64 * 1000,
            };
            match i % 20 {
                0 => {
                    let state = ThreadState { tgid: 1000, ..ThreadState::default() };
                    encode(&ThreadRecord { header: header(RecordKind::ThreadExit), state }).to_vec()
                }
                1 => {
                    let mut m = FileNameRecord {
                        header: header(RecordKind::FileName),
                        ino: i as u64 % 50,
                        dev: 8 << 20,
                        ..FileNameRecord::default()
                    };
                    m.path[..14].copy_from_slice(b"/var/lib/data.");
                    encode(&m).to_vec()
                }
                _ => encode(&EpollRecord {
                    header: header(RecordKind::EpollCycle),
                    nr: 232,
                    epfd: 5 + (i % 3) as i32,
                    ret: (i % 7) as i64,
                    blocks: (i % 2) as u32,
                    t_enter: i as u64 * 1000 - 900,
                    t_block: i as u64 * 1000 - 800,
                    t_wake: i as u64 * 1000 - 300,
                    t_run: i as u64 * 1000 - 100,
                    waker: Waker { kind: WAKER_SOFTIRQ, id: 3, extra: 1, _pad: 0, sock_ino: 4000 + (i % 32) as u64 },
                    ..EpollRecord::default()
                })
                .to_vec(),
            }
        })
        .collect()
}

fn pipeline(c: &mut Criterion) {
    let records = stream();
    let mut group = c.benchmark_group("user-space path");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("decode + analyse", |b| {
        b.iter(|| {
            let mut consumer = Consumer::new(None);
            for r in &records {
                consumer.feed(r).unwrap();
            }
            consumer.records
        });
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
