//! The human-readable table: one block per target with a severity summary, then one row
//! per vulnerability. Severity is coloured only when asked (the CLI asks on a terminal).

use std::fmt::Write;

use super::ScanReport;

fn colour(sev: &str, on: bool) -> String {
    if !on {
        return sev.to_string();
    }
    let code = match sev {
        "CRITICAL" => "1;31",
        "HIGH" => "31",
        "MEDIUM" => "33",
        "LOW" => "34",
        _ => "37",
    };
    format!("\x1b[{code}m{sev}\x1b[0m")
}

fn trunc(s: &str, n: usize) -> String {
    let s = s.lines().next().unwrap_or("");
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn render(
    out: &mut String,
    headers: &[&str],
    rows: &[Vec<String>],
    colour_col: Option<usize>,
    colour_on: bool,
) {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: &[String], raw: bool| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            let shown = if !raw && Some(i) == colour_col {
                colour(c, colour_on)
            } else {
                c.clone()
            };
            let _ = write!(
                s,
                "{}{}{}",
                if i == 0 { "" } else { "  " },
                shown,
                " ".repeat(pad)
            );
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(
        out,
        &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        true,
    );
    let _ = writeln!(
        out,
        "{}",
        w.iter()
            .map(|n| "-".repeat(*n))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for r in rows {
        line(out, r, false);
    }
}

pub fn to_table(r: &ScanReport, colour_on: bool) -> String {
    let mut out = String::new();
    let groups = r.grouped();
    if groups.is_empty() && r.secrets.is_empty() {
        let _ = writeln!(
            out,
            "{}: no vulnerabilities found ({} packages scanned)",
            r.artifact,
            r.inventory.packages.len()
        );
    }
    for (t, fs) in groups {
        let mut counts = std::collections::BTreeMap::new();
        for f in &fs {
            *counts.entry(f.advisory.severity.as_str()).or_insert(0) += 1;
        }
        let summary: Vec<String> = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
            .iter()
            .map(|s| format!("{s}: {}", counts.get(s).unwrap_or(&0)))
            .collect();
        let _ = writeln!(
            out,
            "\n{} ({})\nTotal: {} ({})\n",
            t.name,
            t.kind,
            fs.len(),
            summary.join(", ")
        );
        let rows: Vec<Vec<String>> = fs
            .iter()
            .map(|f| {
                vec![
                    f.package.name.clone(),
                    f.vulnerability_id.clone(),
                    f.advisory.severity.clone(),
                    f.status.clone(),
                    f.package.version.clone(),
                    f.fixed_version.clone().unwrap_or_default(),
                    trunc(f.advisory.summary.as_deref().unwrap_or(""), 60),
                ]
            })
            .collect();
        render(
            &mut out,
            &[
                "Library",
                "Vulnerability",
                "Severity",
                "Status",
                "Installed",
                "Fixed",
                "Title",
            ],
            &rows,
            Some(2),
            colour_on,
        );
    }
    for file in &r.secrets {
        let _ = writeln!(
            out,
            "\n{} (secrets)\nTotal: {}\n",
            file.path,
            file.findings.len()
        );
        let rows: Vec<Vec<String>> = file
            .findings
            .iter()
            .map(|s| {
                vec![
                    s.category.to_string(),
                    s.rule_id.to_string(),
                    s.severity.to_string(),
                    if s.start_line == s.end_line {
                        s.start_line.to_string()
                    } else {
                        format!("{}-{}", s.start_line, s.end_line)
                    },
                    trunc(&s.matched, 60),
                ]
            })
            .collect();
        render(
            &mut out,
            &["Category", "Rule", "Severity", "Line", "Match"],
            &rows,
            Some(2),
            colour_on,
        );
    }
    out
}

pub fn to_table_packages(r: &ScanReport) -> String {
    let mut out = String::new();
    if let Some(d) = &r.inventory.distro {
        let _ = writeln!(out, "OS: {} {}", d.id, d.version_id);
    }
    for (t, ps) in r.packages_grouped() {
        let _ = writeln!(out, "\n{} ({}): {} packages\n", t.name, t.kind, ps.len());
        let rows: Vec<Vec<String>> = ps
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.version.clone(),
                    p.source_name.clone().unwrap_or_default(),
                    p.licenses.join(", "),
                    p.path.clone(),
                ]
            })
            .collect();
        render(
            &mut out,
            &["Name", "Version", "Source", "Licenses", "Path"],
            &rows,
            None,
            false,
        );
    }
    out
}
