//! Secrets in image files: private keys, cloud and SaaS credentials, tokens (`wharf scan
//! --scanners secret`), the categories of Trivy's built-in rules, with Trivy's choices of
//! what not to read (binaries, tiny files, system and vendored paths) so the two agree.
//!
//! Speed comes from never running a rule's regex on a file that lacks the rule's keywords:
//! one case-insensitive Aho-Corasick pass over the file finds which keywords occur, and only
//! those rules run. The `regex` crate's matching is linear in the input, and file size is
//! bounded, so time and memory per file are bounded too.

mod rules;

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};
use serde::Serialize;

/// Files smaller than this hold no secret worth a rule (Trivy's bound too).
pub const MIN_FILE_SIZE: u64 = 10;
/// Larger files are skipped with a warning: every byte read is held in memory while its
/// rules run. (Trivy reads them anyway and warns above 10 MiB.)
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;
/// How much of a file decides whether it is binary.
pub const HEAD_SIZE: usize = 300;
/// Lines of context kept on each side of a finding's lines (`Code.Lines`).
const CONTEXT_LINES: usize = 2;
/// Match lines longer than this are cut around the secret.
const MAX_MATCH_LINE: usize = 100;

/// One secret found in a file. Field names follow Trivy's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretFinding {
    pub rule_id: &'static str,
    pub category: &'static str,
    pub severity: &'static str,
    pub title: &'static str,
    /// 1-based, inclusive.
    pub start_line: usize,
    pub end_line: usize,
    /// The line the secret starts on, the secret replaced by `*` (one per byte).
    pub matched: String,
    /// Byte offset of the secret in the file.
    pub offset: usize,
    /// The finding's lines with up to two lines around them, each redacted.
    pub code: Vec<CodeLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeLine {
    pub number: usize,
    pub content: String,
    pub is_cause: bool,
}

/// The findings in one file of the image, with the layer that wrote the file.
#[derive(Debug, Clone, Serialize)]
pub struct SecretFile {
    pub path: String,
    pub layer: Option<String>,
    pub findings: Vec<SecretFinding>,
}

struct Rule {
    id: &'static str,
    category: &'static str,
    title: &'static str,
    severity: &'static str,
    regex: Regex,
    /// Index of the `secret` capture group, if the rule has one.
    group: Option<usize>,
}

/// The compiled rule set.
pub struct Scanner {
    rules: Vec<Rule>,
    keywords: AhoCorasick,
    /// Keyword pattern index → the rules it enables.
    keyword_rules: Vec<Vec<usize>>,
    /// Paths never read (Trivy's built-in allow rules: tests, examples, vendored code,
    /// system directories, language runtimes' own trees, locales, Markdown).
    allowed_paths: RegexSet,
    /// A match containing this is an example value, not a secret.
    allowed_match: Regex,
}

/// Trivy's built-in allow rules as path patterns (the path without its leading `/`).
const ALLOWED_PATHS: &[&str] = &[
    r"(?i)(?:^test|/test|-test|_test|\.test)",
    r"example",
    r"/vendor/",
    r"^usr/(?:share|include|lib)/",
    r"/locales?/",
    r"\.md$",
    r"^opt/yarn-v[\d.]+/",
    r"^usr/local/go/",
    r"^usr/local/lib/python[\d.]+/",
    r"^usr/lib/gems/",
    r"^usr/src/wordpress/",
    r"^var/log/anaconda/",
];

impl Scanner {
    /// The built-in rules, compiled once per process.
    pub fn builtin() -> &'static Scanner {
        static SCANNER: OnceLock<Scanner> = OnceLock::new();
        SCANNER.get_or_init(|| Scanner::new(rules::builtin()))
    }

    fn new(defs: Vec<rules::RuleDef>) -> Scanner {
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut rules = Vec::with_capacity(defs.len());
        for (i, d) in defs.into_iter().enumerate() {
            for k in d.keywords {
                let k = k.to_ascii_lowercase();
                match keywords.iter().position(|x| *x == k) {
                    Some(p) => keyword_rules[p].push(i),
                    None => {
                        keywords.push(k);
                        keyword_rules.push(vec![i]);
                    }
                }
            }
            // The patterns are this crate's own constants: a failure is a bug caught by tests.
            let regex =
                Regex::new(&d.pattern).unwrap_or_else(|e| panic!("secret rule {}: {e}", d.id));
            let group = regex.capture_names().position(|n| n == Some("secret"));
            rules.push(Rule {
                id: d.id,
                category: d.category,
                title: d.title,
                severity: d.severity,
                regex,
                group,
            });
        }
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&keywords)
            .expect("secret keywords");
        Scanner {
            rules,
            keywords,
            keyword_rules,
            allowed_paths: RegexSet::new(ALLOWED_PATHS).expect("allow paths"),
            allowed_match: Regex::new("(?i)example").expect("allow match"),
        }
    }

    /// Whether a file at `path` (root-relative, no leading `/`) of `size` bytes is read at
    /// all. Files over [`MAX_FILE_SIZE`] are wanted (so the caller can warn) but not read.
    pub fn wants(&self, path: &str, size: u64) -> bool {
        size >= MIN_FILE_SIZE && !self.allowed_paths.is_match(path)
    }

    /// Finds the secrets in one text file, ordered by rule id, then position.
    pub fn scan(&self, content: &[u8]) -> Vec<SecretFinding> {
        let mut enabled = vec![false; self.rules.len()];
        let mut any = false;
        for m in self.keywords.find_overlapping_iter(content) {
            for &r in &self.keyword_rules[m.pattern().as_usize()] {
                enabled[r] = true;
                any = true;
            }
        }
        if !any {
            return Vec::new();
        }
        let text = String::from_utf8_lossy(content);
        let mut hits: Vec<(&Rule, usize, usize)> = Vec::new();
        for (rule, _) in self.rules.iter().zip(&enabled).filter(|(_, on)| **on) {
            for caps in rule.regex.captures_iter(&text) {
                let whole = caps.get(0).expect("group 0");
                if self.allowed_match.is_match(whole.as_str()) {
                    continue;
                }
                let secret = rule.group.and_then(|g| caps.get(g)).unwrap_or(whole);
                if !secret.is_empty() {
                    hits.push((rule, secret.start(), secret.end()));
                }
            }
        }
        if hits.is_empty() {
            return Vec::new();
        }
        // every secret is redacted wherever a finding shows its line, not only its own
        let spans: Vec<(usize, usize)> = hits.iter().map(|h| (h.1, h.2)).collect();
        let lines = line_spans(&text);
        let mut out: Vec<SecretFinding> = hits
            .into_iter()
            .map(|(rule, start, end)| finding(rule, &text, &lines, &spans, start, end))
            .collect();
        out.sort_by(|a, b| (a.rule_id, a.offset).cmp(&(b.rule_id, b.offset)));
        out
    }
}

/// The built-in rule with this id as `(id, category, title, severity)`: how a finding read
/// back from the layer cache gets its labels (the cache stores only the rule id). Reads the
/// rule table, compiling nothing.
pub(crate) fn rule_labels(
    id: &str,
) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    rules::builtin()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| (r.id, r.category, r.title, r.severity))
}

/// Trivy's test for binary content (after file(1)'s): a control character other than
/// BEL..CR and ESC in the first [`HEAD_SIZE`] bytes.
pub fn is_binary(head: &[u8]) -> bool {
    head.iter()
        .take(HEAD_SIZE)
        .any(|&b| b < 7 || b == 11 || (14..27).contains(&b) || (28..32).contains(&b) || b == 127)
}

fn finding(
    rule: &Rule,
    text: &str,
    lines: &[(usize, &str)],
    spans: &[(usize, usize)],
    start: usize,
    end: usize,
) -> SecretFinding {
    let start_line = text[..start].matches('\n').count();
    let end_line = start_line + text[start..end].matches('\n').count();
    // line `idx` with every secret's bytes on it replaced by `*`
    let redact = |idx: usize| -> String {
        let (ls, line) = lines[idx];
        let le = ls + line.len();
        let mut bytes = line.as_bytes().to_vec();
        for &(s, e) in spans {
            let (a, b) = (s.max(ls), e.min(le));
            for byte in bytes.iter_mut().take(b.max(a) - ls).skip(a - ls) {
                *byte = b'*';
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let mut matched = redact(start_line);
    if matched.len() > MAX_MATCH_LINE {
        // around the secret: 30 bytes before, 20 after, within the line
        let (ls, line) = lines[start_line];
        let from = start.saturating_sub(30).max(ls) - ls;
        let to = (end.min(ls + line.len()) + 20).min(ls + line.len()) - ls;
        let m = matched.as_bytes();
        matched = String::from_utf8_lossy(&m[from.min(m.len())..to.min(m.len())]).into_owned();
    }
    let first = start_line.saturating_sub(CONTEXT_LINES);
    let last = (end_line + CONTEXT_LINES).min(lines.len() - 1);
    let code = (first..=last)
        .map(|i| CodeLine {
            number: i + 1,
            content: redact(i),
            is_cause: (start_line..=end_line).contains(&i),
        })
        .collect();
    SecretFinding {
        rule_id: rule.id,
        category: rule.category,
        severity: rule.severity,
        title: rule.title,
        start_line: start_line + 1,
        end_line: end_line + 1,
        matched: matched.trim().to_string(),
        offset: start,
        code,
    }
}

/// Each line's start offset and text (without its `\n`).
fn line_spans(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for line in text.split('\n') {
        out.push((pos, line));
        pos += line.len() + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles_and_has_keywords() {
        let s = Scanner::builtin();
        assert!(s.rules.len() > 50);
        for d in rules::builtin() {
            assert!(!d.keywords.is_empty(), "{}", d.id);
        }
    }

    #[test]
    fn a_token_is_found_on_its_line_and_redacted() {
        let token = format!("ghp_{}", "aB3".repeat(12));
        let text = format!("a=1\nb=2\nGITHUB_TOKEN={token}\n");
        let f = Scanner::builtin().scan(text.as_bytes());
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule_id, "github-pat");
        assert_eq!(f[0].start_line, 3);
        assert_eq!(f[0].matched, format!("GITHUB_TOKEN={}", "*".repeat(40)));
        assert!(!f[0].code.iter().any(|l| l.content.contains(&token)));
    }

    #[test]
    fn example_values_and_system_paths_are_allowed() {
        let s = Scanner::builtin();
        assert!(
            s.scan(b"key: ghp_EXAMPLEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n")
                .is_empty()
        );
        assert!(!s.wants("usr/share/doc/x/copyright", 100));
        assert!(!s.wants("app/tests/fixture.pem", 100));
        assert!(!s.wants("app/README.md", 100));
        assert!(s.wants("app/config.yaml", 100));
        assert!(!s.wants("app/config.yaml", 9));
    }

    #[test]
    fn binary_heads_are_told_from_text() {
        assert!(is_binary(b"\x7fELF\x02\x01\x01\0"));
        assert!(!is_binary(b"#!/bin/sh\n\techo hi\r\n\x1b[0m"));
    }
}
