//! Normalisation of TXT IP lists: what GuardDuty gets is one public address or CIDR per line,
//! sorted, merged and de-duplicated, with every rejected line reported.
//!
//! Accepted per line (after stripping `#` comments and blanks): single IPv4/IPv6 addresses,
//! CIDRs (host bits are masked, with a note), dotted netmasks (`10.0.0.0/255.255.0.0`;
//! non-contiguous masks are rejected) and ranges (`a - b` or `a-b`, covered by the minimal set
//! of CIDRs). Private, loopback, link-local, multicast and other non-routable ranges are
//! dropped with a warning: GuardDuty lists apply to public addresses only. CIDR arithmetic is
//! the `ipnet` crate's.
//!
//! Entity lists (trusted and threat entity sets) take domain names too: converted from IDNA to
//! ASCII (`bücher.example` → `xn--bcher-kva.example`), lower-cased, without a trailing dot, a
//! wildcard only as the whole first label (`*.example.com`), every label 1–63 letters, digits
//! or inner `-`, at most 253 characters, at least two labels and a top-level label that is not
//! all digits. Anything else is rejected with its line.

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use std::net::{IpAddr, Ipv4Addr};

pub use crate::kinds::ip_lists::section::ListKind;

/// GuardDuty's limit on a list file's size.
pub const MAX_BYTES: usize = 35 * 1024 * 1024;

/// A line that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

/// The result of normalising one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// Sorted, merged entries.
    pub entries: Vec<IpNet>,
    /// Sorted, de-duplicated domain names (entity lists only).
    pub domains: Vec<String>,
    /// Lines that are not addresses at all.
    pub rejected: Vec<Rejected>,
    /// What was changed or dropped on the way (host bits masked, private ranges dropped).
    pub notes: Vec<String>,
}

impl Normalized {
    /// The list file: one entry per line, sorted, `\n`-terminated; single hosts without a
    /// prefix length.
    pub fn text(&self) -> String {
        let mut text = entries_text(&self.entries);
        for domain in &self.domains {
            text.push_str(domain);
            text.push('\n');
        }
        text
    }

    /// How many entries GuardDuty will count.
    pub fn len(&self) -> usize {
        self.entries.len() + self.domains.len()
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Renders entries as list file text.
pub fn entries_text(entries: &[IpNet]) -> String {
    let mut text = String::new();
    for entry in entries {
        if entry.prefix_len() == entry.max_prefix_len() {
            text.push_str(&entry.addr().to_string());
        } else {
            text.push_str(&entry.to_string());
        }
        text.push('\n');
    }
    text
}

/// Problems that make a list unusable (as opposed to single rejected lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListProblem {
    /// More entries than GuardDuty accepts.
    TooMany { count: usize, limit: usize },
    /// Larger than GuardDuty accepts.
    TooLarge { bytes: usize },
    /// Trusted entries broader than the safety limit.
    TooBroad { entries: Vec<String> },
}

impl std::fmt::Display for ListProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListProblem::TooMany { count, limit } => write!(
                f,
                "{count} entries after normalisation; GuardDuty accepts at most {limit} in this kind of list"
            ),
            ListProblem::TooLarge { bytes } => write!(
                f,
                "{bytes} bytes; GuardDuty accepts list files of at most 35 MB"
            ),
            ListProblem::TooBroad { entries } => write!(
                f,
                "trusted entries broader than /8 (IPv4) or /32 (IPv6) would silence findings for huge parts of the internet: {}; set `allow_broad: true` on this list if that is really intended",
                entries.join(", ")
            ),
        }
    }
}

/// Ranges GuardDuty never sees traffic from on the internet: dropped from lists.
fn non_routable() -> Vec<IpNet> {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    ]
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect()
}

fn parse_addr(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

/// Parses one entry (comment already stripped) into CIDRs.
fn parse_entry(entry: &str, notes: &mut Vec<String>) -> Result<Vec<IpNet>, String> {
    if let Some((start, end)) = split_range(entry) {
        let (start, end) = match (parse_addr(start), parse_addr(end)) {
            (Some(start), Some(end)) => (start, end),
            (None, None) => return Err("not an IP address, CIDR or range".to_string()),
            _ => return Err("not an address range (expected `first - last`)".to_string()),
        };
        return match (start, end) {
            (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
                Ok(Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect())
            }
            (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
                Ok(Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect())
            }
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                Err("the range ends before it starts".to_string())
            }
            _ => Err("the range mixes IPv4 and IPv6".to_string()),
        };
    }
    if let Some((address, suffix)) = entry.split_once('/') {
        let Some(address) = parse_addr(address) else {
            return Err("not an IP address".to_string());
        };
        let suffix = suffix.trim();
        let prefix = match (address, suffix.parse::<Ipv4Addr>()) {
            (IpAddr::V4(_), Ok(mask)) => ipnet::ipv4_mask_to_prefix(mask)
                .map_err(|_| format!("netmask {mask} is not contiguous"))?,
            (_, _) => suffix
                .parse::<u8>()
                .map_err(|_| format!("`{suffix}` is not a prefix length"))?,
        };
        let net = IpNet::new(address, prefix)
            .map_err(|_| format!("prefix length /{prefix} is too long for this address"))?;
        let network = net.trunc();
        if network != net {
            notes.push(format!("{entry}: host bits set, using {network}"));
        }
        return Ok(vec![network]);
    }
    match parse_addr(entry) {
        Some(address) => Ok(vec![IpNet::from(address)]),
        None => Err("not an IP address, CIDR or range".to_string()),
    }
}

/// `a - b` or `a-b` (an IPv6 address never contains `-`).
fn split_range(entry: &str) -> Option<(&str, &str)> {
    entry.split_once('-')
}

/// A domain name as GuardDuty's entity lists take it, or why not.
pub fn parse_domain(entry: &str) -> Result<String, String> {
    let entry = entry.strip_suffix('.').unwrap_or(entry);
    let (wildcard, name) = match entry.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, entry),
    };
    if name.contains('*') {
        return Err("a wildcard is allowed only as the whole first label (`*.example.com`)".into());
    }
    if name.contains('_') {
        return Err("`_` is not allowed in a host name".into());
    }
    let ascii = idna::domain_to_ascii(name)
        .map_err(|_| "not a valid internationalised domain name".to_string())?;
    if ascii.len() > 253 {
        return Err(format!(
            "{} characters; a domain name has at most 253",
            ascii.len()
        ));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("not an IP address, CIDR, range or domain name (a domain needs at least two labels, e.g. `example.com`)".into());
    }
    for label in &labels {
        if label.is_empty() {
            return Err("empty label (`..`)".into());
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is longer than 63 characters"));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "label `{label}` has characters other than letters, digits and `-`"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with `-`"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(
            "not an IP address, and not a domain name (its last label is all digits)".into(),
        );
    }
    Ok(if wildcard {
        format!("*.{ascii}")
    } else {
        ascii
    })
}

/// True when a rejected entry was meant as an address (digits, dots, colons, `/`, `-`).
fn looks_like_address(entry: &str) -> bool {
    entry
        .chars()
        .all(|c| c.is_ascii_hexdigit() || ".:/- ".contains(c))
        && entry.chars().any(|c| c.is_ascii_digit())
}

/// Normalises IP list text.
pub fn normalize(text: &str) -> Normalized {
    normalize_with(text, false)
}

/// Normalises entity list text: addresses as [`normalize`] does, and domain names.
pub fn normalize_entities(text: &str) -> Normalized {
    normalize_with(text, true)
}

fn normalize_with(text: &str, with_domains: bool) -> Normalized {
    let mut domains = Vec::new();
    let mut entries = Vec::new();
    let mut rejected = Vec::new();
    let mut notes = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let entry = raw.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let parsed = match parse_entry(entry, &mut notes) {
            Err(_) if with_domains && !looks_like_address(entry) => {
                parse_domain(entry).map(|domain| domains.push(domain))
            }
            other => other.map(|nets| entries.extend(nets)),
        };
        match parsed {
            Ok(()) => {}
            Err(reason) => rejected.push(Rejected {
                line: index + 1,
                text: raw.trim().to_string(),
                reason,
            }),
        }
    }
    let reserved = non_routable();
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for entry in entries {
        match reserved.iter().find(|range| range.contains(&entry)) {
            Some(range) => dropped.push(format!("{entry} (in {range})")),
            None => kept.push(entry),
        }
    }
    if !dropped.is_empty() {
        dropped.sort();
        dropped.dedup();
        notes.push(format!(
            "dropped {} private or non-routable entr{} (GuardDuty lists apply to public addresses only): {}",
            dropped.len(),
            if dropped.len() == 1 { "y" } else { "ies" },
            dropped.join(", ")
        ));
    }
    let mut entries = IpNet::aggregate(&kept);
    entries.sort();
    domains.sort();
    domains.dedup();
    Normalized {
        entries,
        domains,
        rejected,
        notes,
    }
}

/// Checks a normalised list against GuardDuty's limits and guardform's safety rule.
pub fn check(normalized: &Normalized, kind: ListKind, allow_broad: bool) -> Vec<ListProblem> {
    let mut problems = Vec::new();
    let limit = kind.max_entries();
    if normalized.len() > limit {
        problems.push(ListProblem::TooMany {
            count: normalized.len(),
            limit,
        });
    }
    let bytes = normalized.text().len();
    if bytes > MAX_BYTES {
        problems.push(ListProblem::TooLarge { bytes });
    }
    if kind.is_trusted() && !allow_broad {
        let broad: Vec<String> = normalized
            .entries
            .iter()
            .filter(|net| match net {
                IpNet::V4(v4) => v4.prefix_len() < 8,
                IpNet::V6(v6) => v6.prefix_len() < 32,
            })
            .map(ToString::to_string)
            .collect();
        if !broad.is_empty() {
            problems.push(ListProblem::TooBroad { entries: broad });
        }
    }
    problems
}

/// Parses list file text written by [`entries_text`] back into entries (for diffs of what is
/// live); lines that do not parse are kept out.
pub fn parse_normalized(text: &str) -> Vec<IpNet> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            line.parse::<IpNet>()
                .ok()
                .or_else(|| line.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        normalize(text).text().lines().map(str::to_string).collect()
    }

    #[test]
    fn every_item_format() {
        let input = "# header comment\n\n203.0.113.7\n198.51.100.0/24 # office\n192.0.2.10 - 192.0.2.20\n192.0.2.40-192.0.2.41\n203.0.113.128/255.255.255.128\n2001:db8::1\n2001:db8:1::/48\n";
        assert_eq!(
            lines(input),
            vec![
                "192.0.2.10/31",
                "192.0.2.12/30",
                "192.0.2.16/30",
                "192.0.2.20",
                "192.0.2.40/31",
                "198.51.100.0/24",
                "203.0.113.7",
                "203.0.113.128/25",
                "2001:db8::1",
                "2001:db8:1::/48",
            ]
        );
    }

    #[test]
    fn host_bits_are_masked_with_a_note() {
        let normalized = normalize("203.0.113.7/24\n");
        assert_eq!(normalized.text(), "203.0.113.0/24\n");
        assert_eq!(
            normalized.notes,
            vec!["203.0.113.7/24: host bits set, using 203.0.113.0/24"]
        );
    }

    #[test]
    fn bad_lines_are_rejected_with_line_numbers() {
        let normalized = normalize(
            "not-an-ip\n1.2.3.4\n10.0.0.0/255.0.255.0\n5.6.7.8 - 1.1.1.1\n1.2.3.4/33\n1.2.3.4 - ::1\n",
        );
        let found: Vec<(usize, &str)> = normalized
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, "not an IP address, CIDR or range"),
                (3, "netmask 255.0.255.0 is not contiguous"),
                (4, "the range ends before it starts"),
                (5, "prefix length /33 is too long for this address"),
                (6, "the range mixes IPv4 and IPv6"),
            ]
        );
        assert_eq!(normalized.text(), "1.2.3.4\n");
    }

    #[test]
    fn private_ranges_are_dropped_with_a_warning() {
        let normalized = normalize("10.1.2.3\n192.168.0.0/16\n127.0.0.1\nfd00::1\n8.8.8.8\n");
        assert_eq!(normalized.text(), "8.8.8.8\n");
        assert_eq!(normalized.notes.len(), 1);
        assert!(normalized.notes[0].starts_with("dropped 4 private or non-routable entries"));
    }

    #[test]
    fn duplicates_and_neighbours_merge() {
        assert_eq!(
            lines("1.2.3.4\n1.2.3.4\n1.2.3.0/24\n1.2.2.0/24\n"),
            vec!["1.2.2.0/23"]
        );
    }

    #[test]
    fn broad_trusted_entries_are_refused_unless_allowed() {
        let normalized = normalize("0.0.0.0/0\n2001::/16\n");
        let problems = check(&normalized, ListKind::Trusted, false);
        assert!(matches!(&problems[..], [ListProblem::TooBroad { entries }] if entries.len() == 2));
        assert!(check(&normalized, ListKind::Trusted, true).is_empty());
        assert!(check(&normalized, ListKind::Threat, false).is_empty());
    }

    #[test]
    fn limits_are_enforced() {
        let text: String = (0..2001u32)
            .map(|i| format!("{}\n", Ipv4Addr::from(0x0808_0000 + i * 2)))
            .collect();
        let normalized = normalize(&text);
        assert_eq!(normalized.entries.len(), 2001);
        assert_eq!(
            check(&normalized, ListKind::Trusted, false),
            vec![ListProblem::TooMany {
                count: 2001,
                limit: 2000
            }]
        );
        assert!(check(&normalized, ListKind::Threat, false).is_empty());
    }

    proptest::proptest! {
        /// The output covers exactly the public addresses the input covers.
        #[test]
        fn output_covers_exactly_the_input(
            nets in proptest::collection::vec((proptest::prelude::any::<u32>(), 8u8..=32), 1..40),
            probes in proptest::collection::vec(proptest::prelude::any::<u32>(), 200),
        ) {
            let inputs: Vec<IpNet> = nets.iter().map(|(a, p)| IpNet::new(IpAddr::V4(Ipv4Addr::from(*a)), *p).unwrap().trunc()).collect();
            let text: String = inputs.iter().map(|n| format!("{n}\n")).collect();
            let normalized = normalize(&text);
            let reserved = non_routable();
            // Probe inside each input and at random addresses.
            let mut addresses: Vec<IpAddr> = probes.iter().map(|p| IpAddr::V4(Ipv4Addr::from(*p))).collect();
            for (net, probe) in inputs.iter().zip(&probes) {
                let IpNet::V4(v4) = net else { continue };
                let span = u32::MAX.checked_shr(u32::from(v4.prefix_len())).unwrap_or(0);
                addresses.push(IpAddr::V4(Ipv4Addr::from(u32::from(v4.network()) | (probe & span))));
            }
            for address in addresses {
                let host = IpNet::from(address);
                let wanted = inputs.iter().any(|n| n.contains(&address))
                    && !inputs.iter().filter(|n| n.contains(&address)).all(|n| reserved.iter().any(|r| r.contains(n)));
                let got = normalized.entries.iter().any(|n| n.contains(&host));
                proptest::prop_assert_eq!(got, wanted, "address {} in {:?}", address, normalized.entries);
            }
            let mut sorted = normalized.entries.clone();
            sorted.sort();
            proptest::prop_assert_eq!(&sorted, &normalized.entries);
        }
    }

    #[test]
    fn entity_lists_take_domains() {
        let normalized = normalize_entities(
            "Example.COM.\n*.Evil.example\nbücher.example\n203.0.113.7\nexample.com\nsub.my-site.org # note\n",
        );
        assert!(normalized.rejected.is_empty(), "{:?}", normalized.rejected);
        assert_eq!(
            normalized.text(),
            "203.0.113.7\n*.evil.example\nexample.com\nsub.my-site.org\nxn--bcher-kva.example\n"
        );
        assert_eq!(normalized.len(), 5);
    }

    #[test]
    fn bad_domains_are_rejected_with_their_line() {
        let normalized = normalize_entities(
            "ok.example\nlocalhost\nfoo.*.example\n-bad.example\nunder_score.example\na..b\n1.2.3.999\n",
        );
        let found: Vec<(usize, &str)> = normalized
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    2,
                    "not an IP address, CIDR, range or domain name (a domain needs at least two labels, e.g. `example.com`)"
                ),
                (
                    3,
                    "a wildcard is allowed only as the whole first label (`*.example.com`)"
                ),
                (4, "label `-bad` starts or ends with `-`"),
                (5, "`_` is not allowed in a host name"),
                (6, "empty label (`..`)"),
                (7, "not an IP address, CIDR or range"),
            ]
        );
        assert_eq!(normalized.text(), "ok.example\n");
    }

    #[test]
    fn ip_lists_still_refuse_domains() {
        let normalized = normalize("example.com\n8.8.8.8\n");
        assert_eq!(normalized.rejected.len(), 1);
        assert_eq!(normalized.text(), "8.8.8.8\n");
    }

    #[test]
    fn output_round_trips() {
        let normalized = normalize("1.2.3.4\n2001:db8::/32\n5.6.0.0/16\n");
        assert_eq!(parse_normalized(&normalized.text()), normalized.entries);
    }
}
