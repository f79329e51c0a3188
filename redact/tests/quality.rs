//! Precision and recall per class on the generated corpus (exact span match).

use std::collections::{BTreeMap, BTreeSet};

use airlock_redact::{Class, Redactor, Span, corpus};

#[derive(Default)]
struct Tally {
    tp: u32,
    fp: u32,
    fn_: u32,
}

#[test]
fn precision_and_recall_at_least_99_percent_per_class() {
    let samples = corpus::generate(0x5EED_A1B2, 2500);
    let r = Redactor::new(&corpus::config()).unwrap();
    let mut t: BTreeMap<Class, Tally> = BTreeMap::new();
    let mut shown = 0;
    for s in &samples {
        let want: BTreeSet<(usize, usize, String)> = s
            .spans
            .iter()
            .map(|x| (x.start, x.end, x.class.to_string()))
            .collect();
        let got_spans = r.find_spans(&s.text);
        let got: BTreeSet<(usize, usize, String)> = got_spans
            .iter()
            .map(|x| (x.start, x.end, x.class.to_string()))
            .collect();
        let cls = |x: &(usize, usize, String)| x.2.parse::<Class>().unwrap();
        for x in want.intersection(&got) {
            t.entry(cls(x)).or_default().tp += 1;
        }
        for x in got.difference(&want) {
            t.entry(cls(x)).or_default().fp += 1;
        }
        for x in want.difference(&got) {
            t.entry(cls(x)).or_default().fn_ += 1;
        }
        if want != got && shown < 15 {
            shown += 1;
            let show = |v: &[Span]| {
                v.iter()
                    .map(|x| format!("{}:{:?}", x.class, &s.text[x.start..x.end]))
                    .collect::<Vec<_>>()
            };
            println!(
                "MISMATCH in {:?}\n  want {:?}\n  got  {:?}",
                s.text,
                show(&s.spans),
                show(&got_spans)
            );
        }
    }
    println!(
        "\n{:<22} {:>6} {:>5} {:>5} {:>9} {:>8}",
        "class", "tp", "fp", "fn", "precision", "recall"
    );
    let mut ok = true;
    for (c, x) in &t {
        let p = f64::from(x.tp) / f64::from((x.tp + x.fp).max(1));
        let rc = f64::from(x.tp) / f64::from((x.tp + x.fn_).max(1));
        println!(
            "{:<22} {:>6} {:>5} {:>5} {:>9.4} {:>8.4}",
            c.to_string(),
            x.tp,
            x.fp,
            x.fn_,
            p,
            rc
        );
        ok &= p >= 0.99 && rc >= 0.99;
    }
    let mut all: BTreeSet<Class> = Class::BUILTIN.into_iter().collect();
    all.insert(Class::Custom("employee_id".into()));
    for c in &all {
        assert!(
            t.get(c).is_some_and(|x| x.tp >= 100),
            "too few samples of {c}"
        );
    }
    assert!(ok, "a class is below 0.99 precision or recall");
}
