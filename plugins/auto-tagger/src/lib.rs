//! auto-tagger: on `ticket-created`, adds tags chosen by keyword rules from its settings
//! (`{"rules": [{"keyword": "refund", "tag": "billing"}]}`), matching the ticket's subject
//! and description case-insensitively. Calls `add-tags` once with every matched tag, or not
//! at all when nothing matched. Summary: `added N tag(s)`.

use airlock_sdk::{Error, Event, Json, Outcome, Plugin, helpdesk, log, settings};

/// One keyword rule, with the keyword already lowercased.
#[derive(Debug, PartialEq)]
struct Rule {
    keyword: String,
    tag: String,
}

/// Reads the `rules` setting (unset = no rules).
fn parse_rules(rules: Option<&Json>) -> Result<Vec<Rule>, Error> {
    let Some(rules) = rules else {
        return Ok(Vec::new());
    };
    let items = rules
        .as_array()
        .ok_or_else(|| Error::invalid("setting rules must be a list"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let field = |name: &str| {
                rule[name]
                    .as_str()
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| {
                        Error::invalid(format!("rules[{i}].{name} must be a non-empty string"))
                    })
            };
            Ok(Rule {
                keyword: field("keyword")?.to_lowercase(),
                tag: field("tag")?.trim().to_owned(),
            })
        })
        .collect()
}

/// The distinct tags (in rule order) whose keyword occurs in any of `texts`.
fn matching_tags(rules: &[Rule], texts: &[Option<&str>]) -> Vec<String> {
    let haystacks: Vec<String> = texts.iter().flatten().map(|t| t.to_lowercase()).collect();
    let mut tags: Vec<String> = Vec::new();
    for rule in rules {
        if haystacks.iter().any(|h| h.contains(&rule.keyword)) && !tags.contains(&rule.tag) {
            tags.push(rule.tag.clone());
        }
    }
    tags
}

struct AutoTagger;

impl Plugin for AutoTagger {
    fn handle(event: Event) -> Result<Outcome, Error> {
        let Event::TicketCreated(ticket) = event else {
            return Ok(Outcome::new("ignored: not ticket-created"));
        };
        let rules = parse_rules(settings::get("rules")?.as_ref())?;
        let tags = matching_tags(
            &rules,
            &[ticket.subject.as_deref(), ticket.description.as_deref()],
        );
        if !tags.is_empty() {
            helpdesk::add_tags(&ticket.id, &tags)?;
        }
        log::debug!("{} rule(s), {} matched", rules.len(), tags.len());
        Ok(Outcome::new(format!("added {} tag(s)", tags.len())))
    }
}

airlock_sdk::export_plugin!(AutoTagger);

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(doc: &str) -> Vec<Rule> {
        parse_rules(Some(&Json::parse(doc).unwrap())).unwrap()
    }

    #[test]
    fn matches_case_insensitively_and_dedupes() {
        let rules = rules(
            r#"[{"keyword": "Refund", "tag": "billing"}, {"keyword": "crash", "tag": "bug"},
                {"keyword": "invoice", "tag": "billing"}, {"keyword": "login", "tag": "auth"}]"#,
        );
        let tags = matching_tags(
            &rules,
            &[
                Some("REFUND for my invoice"),
                Some("The app CRASHES on start"),
            ],
        );
        assert_eq!(tags, ["billing", "bug"]);
    }

    #[test]
    fn no_rules_or_no_text_means_no_tags() {
        assert!(parse_rules(None).unwrap().is_empty());
        let rules = rules(r#"[{"keyword": "refund", "tag": "billing"}]"#);
        assert!(matching_tags(&rules, &[None, None]).is_empty());
        assert!(matching_tags(&rules, &[Some("hello"), None]).is_empty());
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            r#"{"keyword": "x"}"#,
            r#"[{"keyword": "x"}]"#,
            r#"[{"keyword": " ", "tag": "t"}]"#,
            r#"[1]"#,
        ] {
            assert!(
                parse_rules(Some(&Json::parse(bad).unwrap())).is_err(),
                "{bad}"
            );
        }
    }
}
