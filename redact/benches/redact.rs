//! Throughput of find_spans/redact on the generated corpus, next to a plain
//! memchr scan of the same bytes as a baseline.
//!
//! Every benchmark runs twice: `wall/...` measures wall-clock time (what
//! criterion does by default) and `cpu/...` measures this thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), which is the one-core figure even when other
//! processes compete for the machine's cores.

use std::hint::black_box;
use std::time::Duration;

use airlock_redact::{Policy, Redactor, corpus};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Thread CPU time in nanoseconds.
struct CpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, s: u64) -> u64 {
        thread_cpu_ns() - s
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn bench<M: Measurement>(c: &mut Criterion<M>, tag: &str) {
    let text = corpus::text(0xBE7C, 4000);
    let r = Redactor::default();
    let with_custom = Redactor::new(&corpus::config()).unwrap();
    let policy = Policy::default();
    let mut g = c.benchmark_group(format!("{tag}/corpus"));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("memchr_count_newlines", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(text.as_bytes())).count())
    });
    g.bench_function("memchr_absent_byte", |b| {
        b.iter(|| memchr::memchr(0xFF, black_box(text.as_bytes())))
    });
    g.bench_function("find_spans", |b| {
        b.iter(|| r.find_spans(black_box(&text)).len())
    });
    g.bench_function("redact", |b| {
        b.iter(|| r.redact(black_box(&text), &policy).text.len())
    });
    g.bench_function("redact_with_custom_regex", |b| {
        b.iter(|| with_custom.redact(black_box(&text), &policy).text.len())
    });
    g.finish();

    // Clean text (nothing to find): the common case for most tickets.
    let clean = "The customer reports that the app crashes on login after the last update. \
                 Please escalate to tier 2 if this happens again; order #123456 shipped 2024-03-15.\n"
        .repeat(4000);
    let mut g = c.benchmark_group(format!("{tag}/clean"));
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("memchr_absent_byte", |b| {
        b.iter(|| memchr::memchr(0xFF, black_box(clean.as_bytes())))
    });
    g.bench_function("redact", |b| {
        b.iter(|| r.redact(black_box(&clean), &policy).text.len())
    });
    g.finish();
}

fn wall(c: &mut Criterion) {
    bench(c, "wall");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    bench(c, "cpu");
}

fn config<M: Measurement>(m: M) -> Criterion<M> {
    Criterion::default()
        .with_measurement(m)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = wall_benches; config = config(WallTime); targets = wall }
criterion_group! { name = cpu_benches; config = config(CpuTime); targets = cpu }
criterion_main!(wall_benches, cpu_benches);
