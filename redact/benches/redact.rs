//! Throughput of find_spans/redact on the generated corpus, next to a plain
//! memchr scan of the same bytes as a baseline.

use std::hint::black_box;

use airlock_redact::{Policy, Redactor, corpus};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let text = corpus::text(0xBE7C, 4000);
    let r = Redactor::default();
    let with_custom = Redactor::new(&corpus::config()).unwrap();
    let policy = Policy::default();
    let mut g = c.benchmark_group("corpus");
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

    // Clean text (nothing to find): the common case.
    let clean = "The customer reports that the app crashes on login after the last update. \
                 Please escalate to tier 2 if this happens again; order #123456 shipped 2024-03-15.\n"
        .repeat(4000);
    let mut g = c.benchmark_group("clean");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("memchr_absent_byte", |b| {
        b.iter(|| memchr::memchr(0xFF, black_box(clean.as_bytes())))
    });
    g.bench_function("redact", |b| {
        b.iter(|| r.redact(black_box(&clean), &policy).text.len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
