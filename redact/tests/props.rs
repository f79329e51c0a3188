//! Property tests: no panics, UTF-8 boundaries, masked values gone, idempotence.

use airlock_redact::{Mask, Policy, Redactor, corpus};
use proptest::prelude::*;

fn redactor() -> &'static Redactor {
    static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    R.get_or_init(|| Redactor::new(&corpus::config()).unwrap())
}

fn mask() -> impl Strategy<Value = Mask> {
    prop_oneof![Just(Mask::Label), Just(Mask::Partial), Just(Mask::Token)]
}

/// Text built from fragments that look like sensitive data, separators and
/// arbitrary characters, so the detectors are actually exercised.
fn texty() -> impl Strategy<Value = String> {
    let frag = prop_oneof![
        "[0-9]{1,20}",
        "[0-9]{3,4}[ -][0-9]{2,4}[ -][0-9]{2,4}",
        "[A-Z]{2}[0-9]{2}( [A-Z0-9]{4}){2,5}",
        "[a-z.]{1,8}@[a-z]{1,6}\\.[a-z]{2,3}",
        "\\+[0-9 ()-]{6,18}",
        "(password|api_key|token)[=:] ?[!-~]{0,12}",
        "[0-9a-f:]{2,20}",
        "[0-9.]{3,16}",
        "(DOB|born on|date of birth):? [0-9/.-]{6,10}",
        "(AKIA|ghp_|glpat-|xoxb-|sk_live_|eyJ)[A-Za-z0-9_.-]{0,45}",
        "-----BEGIN (RSA )?PRIVATE KEY-----\n[A-Za-z0-9+/\n]{0,40}(-----END PRIVATE KEY-----)?",
        "[•\\[\\]#_]{1,3}",
        "\\PC{0,6}",
        "[ \n,.;:]{1,2}",
    ];
    prop::collection::vec(frag, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,200}", m in mask()) {
        let r = redactor();
        let _ = r.redact(&s, &Policy::default().with_default_mask(m));
    }

    #[test]
    fn spans_are_sorted_disjoint_and_on_char_boundaries(s in texty()) {
        let spans = redactor().find_spans(&s);
        let mut last = 0;
        for sp in &spans {
            prop_assert!(sp.start >= last && sp.start < sp.end && sp.end <= s.len());
            prop_assert!(s.is_char_boundary(sp.start) && s.is_char_boundary(sp.end));
            last = sp.end;
        }
    }

    #[test]
    fn masked_values_do_not_survive(s in texty()) {
        let r = redactor();
        let out = r.redact(&s, &Policy::default());
        for sp in r.find_spans(&s) {
            let v = &s[sp.start..sp.end];
            // Long values must be gone (short ones may occur elsewhere by chance).
            if v.len() >= 8 && s.matches(v).count() == 1 {
                prop_assert!(!out.text.contains(v), "{v:?} survived in {:?}", out.text);
            }
        }
    }

    #[test]
    fn redaction_is_idempotent(s in texty(), m in mask()) {
        let r = redactor();
        let p = Policy::new([5; 32], "t/i").with_default_mask(m);
        let once = r.redact(&s, &p);
        let twice = r.redact(&once.text, &p);
        prop_assert_eq!(&once.text, &twice.text);
    }

    #[test]
    fn corpus_redaction_is_idempotent(seed in any::<u64>(), m in mask()) {
        let r = redactor();
        let p = Policy::new([5; 32], "t/i").with_default_mask(m);
        for s in corpus::generate(seed, 4) {
            let once = r.redact(&s.text, &p);
            prop_assert_eq!(once.counts.values().sum::<u32>() as usize, s.spans.len());
            let twice = r.redact(&once.text, &p);
            prop_assert_eq!(&once.text, &twice.text);
        }
    }
}
