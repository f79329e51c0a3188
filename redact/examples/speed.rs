//! Quick throughput check: `cargo run --release --example speed`.
//!
//! Reports MB per wall-second (best of several rounds) and MB per
//! CPU-second of this thread (from /proc, Linux only), which stays
//! meaningful when other processes compete for the cores.
use std::time::Instant;

use airlock_redact::{Policy, Redactor, corpus};

fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // After the command name: state(skipped, not numeric), ppid.. utime is field 14 overall.
    if f.len() > 12 {
        (f[10] + f[11]) / 100.0
    } else {
        0.0
    }
}

fn measure<F: FnMut() -> usize>(mb: f64, mut f: F) -> (f64, f64) {
    let mut best = f64::MAX;
    let (c0, t0) = (cpu_secs(), Instant::now());
    let mut n = 0;
    while t0.elapsed().as_secs_f64() < 3.0 || n < 20 {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
        n += 1;
    }
    let cpu = cpu_secs() - c0;
    (
        mb / best,
        if cpu > 0.0 {
            mb * n as f64 / cpu
        } else {
            f64::NAN
        },
    )
}

fn main() {
    let text = corpus::text(0xBE7C, 4000);
    let clean = "The customer reports that the app crashes on login after the last update. \
                 Please escalate to tier 2 if this happens again; order #123456 shipped 2024-03-15.\n"
        .repeat(4000);
    let r = Redactor::default();
    let p = Policy::default();
    let only = std::env::args().nth(1);
    for (name, t) in [("corpus", &text), ("clean", &clean)] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let mb = t.len() as f64 / 1e6;
        let m = measure(mb, || memchr::memchr_iter(b'\n', t.as_bytes()).count());
        let f = measure(mb, || r.find_spans(t).len());
        let x = measure(mb, || r.redact(t, &p).text.len());
        println!(
            "{name} ({mb:.2} MB), MB/s wall-best | per CPU-s: memchr {:.0} | {:.0}, find_spans {:.0} | {:.0}, redact {:.0} | {:.0}",
            m.0, m.1, f.0, f.1, x.0, x.1
        );
    }
}
