//! Quick throughput check: `cargo run --release --example speed`.
use std::time::Instant;

use airlock_redact::{Policy, Redactor, corpus};

fn best<F: FnMut() -> usize>(mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..30 {
        let t = Instant::now();
        std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let text = corpus::text(0xBE7C, 4000);
    let clean = "The customer reports that the app crashes on login after the last update. \
                 Please escalate to tier 2 if this happens again; order #123456 shipped 2024-03-15.\n"
        .repeat(4000);
    let r = Redactor::default();
    let p = Policy::default();
    for (name, t) in [("corpus", &text), ("clean", &clean)] {
        let mb = t.len() as f64 / 1e6;
        let m = best(|| memchr::memchr_iter(b'\n', t.as_bytes()).count());
        let f = best(|| r.find_spans(t).len());
        let x = best(|| r.redact(t, &p).text.len());
        println!(
            "{name}: {:.2} MB  memchr {:.0} MB/s  find_spans {:.0} MB/s  redact {:.0} MB/s",
            mb,
            mb / m,
            mb / f,
            mb / x
        );
    }
}
