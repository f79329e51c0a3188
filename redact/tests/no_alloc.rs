//! `redact` must not allocate when there is nothing to redact.
//!
//! This file is its own test binary, so the counting global allocator only
//! applies here. Counting is per thread, so other test threads do not interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use airlock_redact::{Policy, Redactor};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn no_allocation_when_nothing_is_found() {
    let r = Redactor::default();
    let p = Policy::default();
    // Clean text full of near-misses: digits, versions, tickets, timestamps.
    let text = "Hi team, order #123456 (TKT-2024-00042) shipped 2024-03-15T10:30:45Z via UPS \
        1Z999AA10123456784; ref 4111 1111 1111 1112, version 1.2.3.4, v2.0.1.7, total $1,234.56, \
        SSN-like 000-12-3456, bad IBAN ES92 2100 0418 4502 0005 1332, epoch 1710498645123, \
        call std::vector at 10:30:45, password reset requested. Grüße aus München — à bientôt!\n";
    let big = text.repeat(50);
    let before = allocs();
    for _ in 0..10 {
        let out = r.redact(&big, &p);
        assert!(matches!(out.text, std::borrow::Cow::Borrowed(_)));
        assert!(out.counts.is_empty());
        let spans = r.find_spans(text);
        assert!(spans.is_empty());
    }
    assert_eq!(allocs() - before, 0, "redact allocated on clean text");
}

#[test]
fn allocation_happens_when_something_is_found() {
    let r = Redactor::default();
    let before = allocs();
    let out = r.redact("card 4111 1111 1111 1111", &Policy::default());
    assert_eq!(out.text, "card [CARD]");
    assert!(allocs() > before);
}
