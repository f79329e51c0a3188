//! A tiny JSON reader (and compact writer) for settings and action payloads. It keeps
//! plugins small: no serde, no generics, one value type.

use core::fmt;
use core::ops::Index;

mod parse;

/// Nesting deeper than this is rejected, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 128;

static NULL: Json = Json::Null;

/// A parsed JSON value.
///
/// Look things up with `value["key"]` / `value[0]` (missing entries read as
/// [`Json::Null`], never panic) and the `as_*` accessors. Objects keep their members in
/// document order; with duplicate keys the last one wins.
///
/// ```
/// use airlock_sdk::Json;
/// let v = Json::parse(r#"{"rules": [{"keyword": "refund", "tag": "billing"}]}"#).unwrap();
/// assert_eq!(v["rules"][0]["tag"].as_str(), Some("billing"));
/// assert!(v["missing"]["deeper"].is_null());
/// assert_eq!(v.to_string(), r#"{"rules":[{"keyword":"refund","tag":"billing"}]}"#);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("null").unwrap(), Json::Null);
    /// ```
    Null,
    /// `true` or `false`.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("true").unwrap(), Json::Bool(true));
    /// ```
    Bool(bool),
    /// A number (JSON numbers are read as `f64`).
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("1.5").unwrap(), Json::Number(1.5));
    /// ```
    Number(f64),
    /// A string.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse(r#""a\nb""#).unwrap(), Json::String("a\nb".into()));
    /// ```
    String(String),
    /// An array.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("[null]").unwrap(), Json::Array(vec![Json::Null]));
    /// ```
    Array(Vec<Json>),
    /// An object: members in document order.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse(r#"{"a":1}"#).unwrap(), Json::Object(vec![("a".into(), Json::Number(1.0))]));
    /// ```
    Object(Vec<(String, Json)>),
}

/// Why [`Json::parse`] rejected its input.
///
/// ```
/// use airlock_sdk::Json;
/// let err = Json::parse("[1,]").unwrap_err();
/// assert_eq!(err.offset(), 3);
/// assert_eq!(err.to_string(), "expected a value at byte 3");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    offset: usize,
    message: &'static str,
}

impl JsonError {
    /// The byte offset in the input where parsing failed.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("  x").unwrap_err().offset(), 2);
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong, without the offset.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("[] x").unwrap_err().message(), "trailing characters");
    /// ```
    pub fn message(&self) -> &'static str {
        self.message
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for JsonError {}

impl Json {
    /// Parses one JSON document (RFC 8259; surrounding whitespace allowed).
    ///
    /// ```
    /// use airlock_sdk::Json;
    /// let v = Json::parse(r#" {"vip_domains": ["bigcorp.example"]} "#)?;
    /// assert_eq!(v["vip_domains"][0].as_str(), Some("bigcorp.example"));
    /// # Ok::<(), airlock_sdk::JsonError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        parse::document(text)
    }

    /// The member `key` of an object (`None` for a missing key or a non-object).
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// let v = Json::parse(r#"{"a": 1}"#).unwrap();
    /// assert_eq!(v.get("a").and_then(Json::as_u64), Some(1));
    /// assert!(v.get("b").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is a string.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::String("x".into()).as_str(), Some("x"));
    /// assert_eq!(Json::Null.as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is `true` or `false`.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::Bool(true).as_bool(), Some(true));
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is a number.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("-2.5e1").unwrap().as_f64(), Some(-25.0));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an `i64`, if it is a whole number within ±2^53 (exact in `f64`).
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("-3").unwrap().as_i64(), Some(-3));
    /// assert_eq!(Json::parse("3.5").unwrap().as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        match self {
            Json::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_EXACT => Some(*n as i64),
            _ => None,
        }
    }

    /// The number as a `u64`, if it is a non-negative whole number up to 2^53.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// assert_eq!(Json::parse("10").unwrap().as_u64(), Some(10));
    /// assert_eq!(Json::parse("-1").unwrap().as_u64(), None);
    /// ```
    pub fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|n| u64::try_from(n).ok())
    }

    /// The elements, if this is an array.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// let v = Json::parse(r#"["a", 1, "b"]"#).unwrap();
    /// let strings: Vec<&str> = v.as_array().unwrap_or(&[]).iter().filter_map(Json::as_str).collect();
    /// assert_eq!(strings, ["a", "b"]);
    /// ```
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members in document order, if this is an object.
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// let v = Json::parse(r#"{"b": 1, "a": 2}"#).unwrap();
    /// let keys: Vec<&str> = v.as_object().unwrap().iter().map(|(k, _)| k.as_str()).collect();
    /// assert_eq!(keys, ["b", "a"]);
    /// ```
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    /// Whether this is `null` (also true for missing entries read through indexing).
    ///
    /// ```
    /// # use airlock_sdk::Json;
    /// let v = Json::parse("{}").unwrap();
    /// assert!(v["nope"].is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

impl Index<&str> for Json {
    type Output = Json;

    /// `value["key"]`: the member, or [`Json::Null`] when missing.
    fn index(&self, key: &str) -> &Json {
        self.get(key).unwrap_or(&NULL)
    }
}

impl Index<usize> for Json {
    type Output = Json;

    /// `value[i]`: the element, or [`Json::Null`] when out of range or not an array.
    fn index(&self, i: usize) -> &Json {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

/// Compact JSON (no whitespace). Non-finite numbers are written as `null`.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) if !n.is_finite() => f.write_str("null"),
            Json::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{}", *n as i64),
            Json::Number(n) => write!(f, "{n}"),
            Json::String(s) => write_string(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_string(f, k)?;
                    write!(f, ":{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        f.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(f, "\\u{:04x}", c as u32)?;
        } else {
            f.write_str(escape)?;
        }
        start = i + c.len_utf8();
    }
    f.write_str(&s[start..])?;
    f.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Json {
        Json::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn scalars() {
        assert_eq!(p("null"), Json::Null);
        assert_eq!(p(" true "), Json::Bool(true));
        assert_eq!(p("false"), Json::Bool(false));
        assert_eq!(p("0"), Json::Number(0.0));
        assert_eq!(p("-0.5"), Json::Number(-0.5));
        assert_eq!(p("12e2"), Json::Number(1200.0));
        assert_eq!(p("1E-2"), Json::Number(0.01));
        assert_eq!(p(r#""plain""#), Json::String("plain".into()));
    }

    #[test]
    fn string_escapes_and_unicode() {
        assert_eq!(
            p(r#""a\"b\\c\/d\b\f\n\r\t""#).as_str(),
            Some("a\"b\\c/d\u{8}\u{c}\n\r\t")
        );
        assert_eq!(p(r#""\u00e9t\u00E9""#).as_str(), Some("été"));
        assert_eq!(p(r#""\ud83d\ude00!""#).as_str(), Some("😀!"));
        assert_eq!(p("\"naïve ☕\"").as_str(), Some("naïve ☕"));
    }

    #[test]
    fn nested_documents() {
        let v = p(
            r#"{"rules":[{"keyword":"refund","tag":"billing"},{"keyword":"crash","tag":"bug"}],"on":true}"#,
        );
        let rules = v["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1]["keyword"].as_str(), Some("crash"));
        assert_eq!(v["on"].as_bool(), Some(true));
        assert!(v["rules"][5].is_null());
        assert!(v["on"]["x"].is_null());
        assert_eq!(p("[]"), Json::Array(vec![]));
        assert_eq!(p("{ }"), Json::Object(vec![]));
    }

    #[test]
    fn duplicate_keys_last_wins() {
        assert_eq!(p(r#"{"a":1,"a":2}"#)["a"].as_u64(), Some(2));
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            "-",
            "1e",
            ".5",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "tru",
            "nul",
            "[] []",
            "\"tab\there\"",
            "{\"a\":1,}",
        ] {
            assert!(Json::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn depth_is_limited() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(
            Json::parse(&deep).unwrap_err().message(),
            "nested too deeply"
        );
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(Json::parse(&ok).is_ok());
    }

    #[test]
    fn error_offsets() {
        let e = Json::parse("{\"a\": x}").unwrap_err();
        assert_eq!((e.offset(), e.message()), (6, "expected a value"));
        assert_eq!(
            Json::parse("[1 x").unwrap_err().message(),
            "expected `,` or `]`"
        );
        assert_eq!(
            Json::parse("[1").unwrap_err().message(),
            "unexpected end of input"
        );
    }

    #[test]
    fn number_accessors() {
        assert_eq!(p("42").as_u64(), Some(42));
        assert_eq!(p("-42").as_i64(), Some(-42));
        assert_eq!(p("-42").as_u64(), None);
        assert_eq!(p("1e300").as_i64(), None);
        assert_eq!(p("\"1\"").as_u64(), None);
        assert_eq!(p("2.5").as_f64(), Some(2.5));
    }

    #[test]
    fn display_round_trips() {
        for doc in [
            r#"{"a":[1,2.5,-3,true,false,null],"b":{"c":"d\"e\\f\ng\u0001"}}"#,
            r#"[]"#,
            r#"{}"#,
            r#""😀""#,
        ] {
            let v = p(doc);
            assert_eq!(v.to_string(), doc);
            assert_eq!(p(&v.to_string()), v);
        }
        assert_eq!(Json::Number(f64::NAN).to_string(), "null");
    }
}
