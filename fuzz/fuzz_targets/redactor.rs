//! Any text through the redactor: no panic; spans in order, apart, inside the text and
//! on char boundaries; and no span's text survives redaction.
//!
//! (Redacting twice is not a property: a placeholder such as `[IP]` is new context, so
//! a second pass may find what the first judged, in its context, to be nothing.)
#![no_main]

use airlock_redact::{Config, Policy, Redactor};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::new(&Config::default()).expect("the default config"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let r = redactor();
    let spans = r.find_spans(text);
    let mut last = 0;
    for span in &spans {
        assert!(last <= span.start && span.start < span.end && span.end <= text.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        last = span.end;
    }
    let out = r.redact(text, &Policy::default()).text.to_string();
    if !spans.is_empty() {
        assert_ne!(out, text, "something was found, so something was masked");
    }
});
