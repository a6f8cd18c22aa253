//! The report as one self-contained HTML page: no external script, font, style or image (a
//! Content-Security-Policy says so to the browser too), inline SVG for the charts, light and
//! dark colour schemes, printable, and a little plain JavaScript to filter and sort. Every
//! number that is also in the JSON document carries `data-metric="<path>"`, its path there.

use super::{AccountRow, CellState, Count, Report};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Groups with more accounts than this start collapsed (their summary line still shows).
const OPEN_UP_TO: usize = 30;

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A number the JSON document also has, at `path`.
fn metric(path: &str, value: impl std::fmt::Display) -> String {
    format!("<span data-metric=\"{}\">{value}</span>", esc(path))
}

const STYLE: &str = r#"
:root{--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--card:#f5f7f9;
--ok:#1a7f37;--drift:#b35900;--bad:#c62828;--sus:#6f42c1;--unk:#57606a;--off:#c9d1d9;--bar:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#30363d;
--card:#161b22;--ok:#3fb950;--drift:#d29922;--bad:#f85149;--sus:#a371f7;--unk:#8b949e;--off:#30363d;--bar:#58a6ff}}
*{box-sizing:border-box}body{margin:0 auto;max-width:1400px;padding:24px;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.muted{color:var(--muted)}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin-top:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px}
.card b{display:block;font-size:26px}table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{font-weight:600;cursor:pointer}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{width:auto}.grid td.c{text-align:center;min-width:24px;font-weight:700}
.grid th.c{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500;font-size:12px;padding:4px 2px;text-align:left}
.grid td:first-child{white-space:nowrap;padding-right:18px}.s-enabled{color:var(--ok)}.s-drift{color:var(--drift)}
.s-not_member{color:var(--bad)}.s-suspended{color:var(--sus)}.s-unreadable{color:var(--unk)}.s-not_targeted{color:var(--off)}
.legend span{margin-right:14px;white-space:nowrap}details.ou{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 8px}
details.ou>summary{cursor:pointer;font-weight:600}.bar{background:var(--bar);height:10px;border-radius:2px;display:inline-block}
.controls{margin:8px 0}.controls input[type=search]{padding:4px 8px;width:260px;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:4px}
svg text{fill:var(--fg);font-size:11px}.two{display:grid;grid-template-columns:1fr 1fr;gap:24px}
@media (max-width:900px){.two{grid-template-columns:1fr}}
@media print{details.ou{break-inside:avoid}.controls{display:none}body{max-width:none}}
"#;

const SCRIPT: &str = r#"
(function(){
  var q=document.getElementById('filter'),p=document.getElementById('problems');
  function apply(){var t=(q.value||'').toLowerCase(),only=p.checked;
    document.querySelectorAll('tr[data-account]').forEach(function(r){
      var show=(!t||r.getAttribute('data-text').indexOf(t)>=0)&&(!only||r.getAttribute('data-problem')==='1');
      r.style.display=show?'':'none';});
    if(t||only){document.querySelectorAll('details.ou').forEach(function(d){d.open=true;});}}
  q.addEventListener('input',apply);p.addEventListener('change',apply);
  document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
    var tb=th.closest('table').tBodies[0],rows=Array.prototype.slice.call(tb.rows),num=th.classList.contains('n');
    var dir=th.getAttribute('data-dir')==='asc'?-1:1;th.setAttribute('data-dir',dir===1?'asc':'desc');
    rows.sort(function(a,b){var x=a.cells[i].innerText,y=b.cells[i].innerText;
      return dir*(num?(parseFloat(x)||0)-(parseFloat(y)||0):x.localeCompare(y));});
    rows.forEach(function(r){tb.appendChild(r);});});});
})();
"#;

fn symbol(state: CellState) -> &'static str {
    match state {
        CellState::Enabled => "✓",
        CellState::Drift => "≠",
        CellState::NotMember => "✗",
        CellState::Suspended => "‖",
        CellState::Unreadable => "?",
        CellState::NotTargeted => "·",
    }
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut page = String::with_capacity(64 * 1024 + report.accounts.len() * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\">\
<title>GuardDuty report — {}</title><style>{STYLE}</style></head><body>\n",
        esc(&report.organization)
    );
    header(&mut page, report);
    coverage(&mut page, report);
    runtime(&mut page, report);
    findings(&mut page, report);
    wiring(&mut page, report);
    let _ = writeln!(
        page,
        "<footer class=\"muted\"><p>guardform {} · report format {} · the same data: <code>guardform report --json</code></p></footer>\
<script>{SCRIPT}</script></body></html>",
        esc(report.guardform_version),
        report.format_version
    );
    page
}

fn header(page: &mut String, report: &Report) {
    let s = &report.summary;
    let f = &report.findings;
    let unhealthy = report.runtime.totals().unhealthy;
    let _ = write!(
        page,
        "<header><h1>GuardDuty across the organization</h1><p class=\"muted\">Organization {} · administrator {} · {} Region(s) · manifest {} · generated {}</p></header>\n\
<section class=\"cards\" id=\"summary\">\
<div class=\"card\">Coverage<b>{}%</b><span class=\"muted\">of targeted account-Regions</span></div>\
<div class=\"card\">Accounts<b>{}</b><span class=\"muted\">{} targeted</span></div>\
<div class=\"card\">Active findings<b>{}</b><span class=\"muted\">last {} days; {} high, {} critical</span></div>\
<div class=\"card\">Unhealthy runtime<b>{unhealthy}</b><span class=\"muted\">resources</span></div>\
<div class=\"card\">Pending changes<b>{}</b><span class=\"muted\">{}</span></div></section>\n",
        esc(&report.organization),
        esc(&report.administrator),
        metric("summary.regions", s.regions),
        esc(&report.manifest),
        esc(&report.generated_at),
        metric(
            "summary.coverage_percent",
            format!("{:.1}", s.coverage_percent)
        ),
        metric("summary.accounts", s.accounts),
        metric("summary.targeted_accounts", s.targeted_accounts),
        metric("findings.total", f.total),
        f.days,
        metric("findings.by_severity.high", f.by_severity.high),
        metric("findings.by_severity.critical", f.by_severity.critical),
        metric("drift.pending", report.drift.pending),
        match &report.drift.error {
            Some(e) => format!("no plan: {}", esc(e)),
            None => "to match the manifest".to_string(),
        }
    );
}

fn coverage(page: &mut String, report: &Report) {
    page.push_str(
        "<section id=\"coverage\"><h2>Coverage by account and Region</h2><p class=\"legend\">",
    );
    for state in CellState::ALL {
        let n = report
            .summary
            .cells
            .get(&state)
            .copied()
            .unwrap_or_default();
        let _ = write!(
            page,
            "<span><b class=\"s-{0}\">{1}</b> {2}: {3}</span>",
            state.name(),
            symbol(state),
            state.label(),
            metric(&format!("summary.cells.{}", state.name()), n)
        );
    }
    page.push_str("</p>\n<div class=\"two\"><div><h3>Features</h3><table class=\"sortable\"><thead><tr><th>Feature</th><th class=\"n\">On</th><th class=\"n\">%</th><th></th></tr></thead><tbody>");
    for (i, f) in report.features.iter().enumerate() {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td><span class=\"bar\" style=\"width:{:.0}px\"></span></td></tr>",
            esc(&f.feature),
            metric(&format!("features.{i}.enabled"), f.enabled),
            metric(&format!("features.{i}.of"), f.of),
            metric(
                &format!("features.{i}.percent"),
                format!("{:.1}", f.percent)
            ),
            f.percent * 1.2
        );
    }
    page.push_str("</tbody></table></div><div><h3>Needs attention</h3>");
    attention(page, report);
    page.push_str("</div></div>\n<div class=\"controls\"><input type=\"search\" id=\"filter\" placeholder=\"Filter accounts by id, name or OU\"> <label><input type=\"checkbox\" id=\"problems\"> only accounts with problems</label></div>\n");
    let mut groups: BTreeMap<&str, Vec<&AccountRow>> = BTreeMap::new();
    for row in &report.accounts {
        groups.entry(row.ou.as_str()).or_default().push(row);
    }
    for (ou, rows) in groups {
        group(page, report, ou, &rows);
    }
    page.push_str("</section>\n");
}

/// The cells that are not fine, most common reasons first (at most 12 lines).
fn attention(page: &mut String, report: &Report) {
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for row in &report.accounts {
        for cell in row.cells.values() {
            if !matches!(cell.state, CellState::Enabled | CellState::NotTargeted) {
                *reasons
                    .entry(format!("{}: {}", cell.state.label(), cell.detail))
                    .or_default() += 1;
            }
        }
    }
    if reasons.is_empty() {
        page.push_str("<p>Every targeted account is covered in every targeted Region.</p>");
        return;
    }
    page.push_str("<table><tbody>");
    for Count { name, count } in super::reads::top(reasons, 12) {
        let _ = write!(
            page,
            "<tr><td class=\"n\">{count}</td><td>{}</td></tr>",
            esc(&name)
        );
    }
    page.push_str("</tbody></table>");
}

/// One OU's accounts: a summary line per Region, and the grid.
fn group(page: &mut String, report: &Report, ou: &str, rows: &[&AccountRow]) {
    let problems = rows.iter().filter(|r| has_problem(r)).count();
    let open = if rows.len() <= OPEN_UP_TO {
        " open"
    } else {
        ""
    };
    let _ = write!(
        page,
        "<details class=\"ou\"{open}><summary>{} — {} account(s), {} with problems</summary>\
<table class=\"grid sortable\"><thead><tr><th>Account</th><th>Profile</th>",
        esc(ou),
        rows.len(),
        problems
    );
    for region in &report.regions {
        let _ = write!(page, "<th class=\"c\" title=\"{0}\">{0}</th>", esc(region));
    }
    page.push_str("</tr><tr class=\"muted\"><td>covered here</td><td></td>");
    for region in &report.regions {
        let targeted = rows
            .iter()
            .filter(|r| {
                r.cells
                    .get(region)
                    .is_some_and(|c| c.state != CellState::NotTargeted)
            })
            .count();
        let covered = rows
            .iter()
            .filter(|r| {
                r.cells
                    .get(region)
                    .is_some_and(|c| c.state == CellState::Enabled)
            })
            .count();
        let _ = write!(page, "<td class=\"c\">{covered}/{targeted}</td>");
    }
    page.push_str("</tr></thead><tbody>");
    for row in rows {
        account_row(page, report, row);
    }
    page.push_str("</tbody></table></details>\n");
}

fn has_problem(row: &AccountRow) -> bool {
    row.cells
        .values()
        .any(|c| !matches!(c.state, CellState::Enabled | CellState::NotTargeted))
}

fn account_row(page: &mut String, report: &Report, row: &AccountRow) {
    let text = format!("{} {} {}", row.id, row.name, row.ou).to_lowercase();
    let role = if row.administrator {
        " (administrator)"
    } else {
        ""
    };
    let _ = write!(
        page,
        "<tr data-account=\"{}\" data-problem=\"{}\" data-text=\"{}\"><td>{} <span class=\"muted\">{}{role}</span></td><td>{}</td>",
        esc(&row.id),
        u8::from(has_problem(row)),
        esc(&text),
        esc(&row.id),
        esc(&row.name),
        esc(row
            .profile
            .as_deref()
            .unwrap_or(if row.targeted { "default" } else { "" }))
    );
    for region in &report.regions {
        match row.cells.get(region) {
            Some(cell) => {
                let title = if cell.detail.is_empty() {
                    format!("{region}: {}", cell.state.label())
                } else {
                    format!("{region}: {} ({})", cell.state.label(), cell.detail)
                };
                let _ = write!(
                    page,
                    "<td class=\"c s-{}\" title=\"{}\">{}</td>",
                    cell.state.name(),
                    esc(&title),
                    symbol(cell.state)
                );
            }
            None => page.push_str("<td class=\"c\"></td>"),
        }
    }
    page.push_str("</tr>");
}

fn runtime(page: &mut String, report: &Report) {
    let r = &report.runtime;
    page.push_str("<section id=\"runtime\"><h2>Runtime Monitoring coverage</h2><div class=\"two\"><div><table><thead><tr><th>Resource type</th><th class=\"n\">Healthy</th><th class=\"n\">Unhealthy</th></tr></thead><tbody>");
    if r.by_resource_type.is_empty() {
        page.push_str("<tr><td colspan=\"3\" class=\"muted\">No resources reported by Runtime Monitoring.</td></tr>");
    }
    for (kind, health) in &r.by_resource_type {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(kind),
            metric(
                &format!("runtime.by_resource_type.{kind}.healthy"),
                health.healthy
            ),
            metric(
                &format!("runtime.by_resource_type.{kind}.unhealthy"),
                health.unhealthy
            )
        );
    }
    page.push_str("</tbody></table></div><div><h3>Why resources are unhealthy</h3>");
    counts_table(page, &r.top_issues, "runtime.top_issues", "Issue");
    unreadable(page, &r.unreadable);
    page.push_str("</div></div></section>\n");
}

fn unreadable(page: &mut String, problems: &[String]) {
    for problem in problems {
        let _ = write!(
            page,
            "<p class=\"s-unreadable\">Not read: {}</p>",
            esc(problem)
        );
    }
}

fn counts_table(page: &mut String, counts: &[Count], path: &str, what: &str) {
    if counts.is_empty() {
        page.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    let max = counts.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    let _ = write!(
        page,
        "<table class=\"sortable\"><thead><tr><th>{what}</th><th class=\"n\">Count</th><th></th></tr></thead><tbody>"
    );
    for (i, c) in counts.iter().enumerate() {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td><span class=\"bar\" style=\"width:{}px\"></span></td></tr>",
            esc(&c.name),
            metric(&format!("{path}.{i}.count"), c.count),
            c.count * 160 / max
        );
    }
    page.push_str("</tbody></table>");
}

/// Severity bands as horizontal SVG bars.
fn severity_chart(page: &mut String, report: &Report) {
    let s = &report.findings.by_severity;
    let bands = [
        ("critical", s.critical, "var(--bad)"),
        ("high", s.high, "var(--drift)"),
        ("medium", s.medium, "var(--bar)"),
        ("low", s.low, "var(--unk)"),
    ];
    let max = bands.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    page.push_str("<svg role=\"img\" aria-label=\"Active findings by severity\" width=\"420\" height=\"112\" viewBox=\"0 0 420 112\">");
    for (i, (name, n, colour)) in bands.iter().enumerate() {
        let y = i * 26 + 6;
        let width = n * 280 / max;
        let _ = write!(
            page,
            "<text x=\"0\" y=\"{}\">{name}</text><rect x=\"70\" y=\"{y}\" width=\"{width}\" height=\"18\" rx=\"2\" style=\"fill:{colour}\"></rect><text x=\"{}\" y=\"{}\" data-metric=\"findings.by_severity.{name}\">{n}</text>",
            y + 13,
            76 + width,
            y + 13
        );
    }
    page.push_str("</svg>");
}

/// Findings per day as SVG columns.
fn trend_chart(page: &mut String, report: &Report) {
    let days = &report.findings.by_day;
    let max = days.iter().map(|d| d.count).max().unwrap_or(0).max(1);
    let (width, height) = (640usize, 150usize);
    let step = width / days.len().max(1);
    let _ = write!(
        page,
        "<svg role=\"img\" aria-label=\"Findings per day\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">",
        height + 20,
        height + 20
    );
    for (i, day) in days.iter().enumerate() {
        let h = (day.count as usize) * (height - 14) / max as usize;
        let _ = write!(
            page,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\" style=\"fill:var(--bar)\"><title>{}: {}</title></rect>",
            i * step + 1,
            height - h,
            step.saturating_sub(2).max(1),
            esc(&day.name),
            day.count
        );
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            page,
            "<text x=\"0\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><text x=\"0\" y=\"10\">max {max}/day</text>",
            height + 16,
            esc(&first.name),
            width,
            height + 16,
            esc(&last.name)
        );
    }
    page.push_str("</svg>");
}

fn findings(page: &mut String, report: &Report) {
    let f = &report.findings;
    let _ = write!(
        page,
        "<section id=\"findings\"><h2>Findings, last {} days</h2><p>{} active; {} archived (suppression rules archive matching findings as they arrive).</p><div class=\"two\"><div>",
        f.days,
        metric("findings.total", f.total),
        metric("findings.archived", f.archived)
    );
    severity_chart(page, report);
    page.push_str("</div><div>");
    trend_chart(page, report);
    page.push_str("</div></div><div class=\"two\"><div><h3>Top finding types</h3>");
    counts_table(page, &f.by_type, "findings.by_type", "Type");
    page.push_str("</div><div><h3>Top accounts</h3>");
    counts_table(page, &f.by_account, "findings.by_account", "Account");
    page.push_str("</div></div>");
    unreadable(page, &f.unreadable);
    page.push_str("</section>\n");
}

fn wiring(page: &mut String, report: &Report) {
    let d = &report.drift;
    page.push_str("<section id=\"wiring\"><h2>Drift and wiring</h2><div class=\"two\"><div><h3>Pending changes</h3>");
    match &d.error {
        Some(e) => {
            let _ = write!(
                page,
                "<p class=\"s-not_member\">No plan could be made: {}</p>",
                esc(e)
            );
        }
        None if d.pending == 0 => page.push_str("<p>None: live state matches the manifest.</p>"),
        None => {
            counts_table(page, &d.by_type, "drift.by_type", "Resource type");
        }
    }
    page.push_str("<h3>Lists</h3><table class=\"sortable\"><thead><tr><th>List</th><th>Kind</th><th>Region</th><th>Status</th></tr></thead><tbody>");
    for l in &report.lists {
        let _ = write!(
            page,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&l.name),
            if l.managed {
                ""
            } else {
                " <span class=\"muted\">(not guardform's)</span>"
            },
            esc(&l.kind),
            esc(&l.region),
            if l.status == "ACTIVE" {
                "s-enabled"
            } else {
                "s-not_member"
            },
            esc(&l.status)
        );
    }
    page.push_str("</tbody></table></div><div><h3>Responses</h3><table class=\"sortable\"><thead><tr><th>Rule</th><th>Region</th><th>State</th><th class=\"n\">Dead letters</th></tr></thead><tbody>");
    for (i, r) in report.responses.iter().enumerate() {
        let depth = match (r.dead_letters, &r.problem) {
            (Some(n), _) => metric(&format!("responses.{i}.dead_letters"), n),
            (None, Some(p)) => format!("<span title=\"{}\">?</span>", esc(p)),
            (None, None) => "–".to_string(),
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"n\">{depth}</td></tr>",
            esc(&r.rule),
            esc(&r.region),
            if r.state == "ENABLED" {
                "s-enabled"
            } else {
                "s-not_member"
            },
            esc(&r.state)
        );
    }
    page.push_str("</tbody></table><h3>Findings export</h3>");
    if report.destinations.is_empty() {
        page.push_str("<p class=\"muted\">No publishing destination.</p>");
    } else {
        page.push_str("<table><thead><tr><th>Region</th><th>Status</th><th>Destination</th></tr></thead><tbody>");
        for dst in &report.destinations {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&dst.region),
                esc(&dst.status),
                esc(&dst.destination)
            );
        }
        page.push_str("</tbody></table>");
    }
    page.push_str("</div></div></section>\n");
}
