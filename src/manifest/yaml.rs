//! A small YAML tree with a source position on every node, built from `saphyr-parser` events.
//!
//! serde stops at the first error; guardform must report every manifest problem at once, with
//! `file:line:column`. So the manifest is first read into this tree (scalars keep their raw text
//! and quoting style, mappings keep key positions and order), then checked by `manifest::parse`.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Nodes a manifest may expand to, aliases included: far beyond any real organization's
/// manifest, far below what an alias bomb ("billion laughs") asks for.
pub const MAX_NODES: usize = 200_000;

/// Nesting depth of mappings and sequences.
pub const MAX_DEPTH: usize = 64;

/// A position in the manifest: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    /// Width of the highlighted text on that line, in characters (at least 1).
    pub width: usize,
}

/// One YAML node.
#[derive(Debug, Clone)]
pub struct Node {
    pub position: Position,
    pub value: Value,
}

/// The content of a node.
#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar with its raw text; `quoted` is true for quoted and block scalars, which are
    /// always strings.
    Scalar {
        text: String,
        quoted: bool,
    },
    Sequence(Vec<Node>),
    /// Key/value pairs in source order. Duplicate keys are reported by the builder.
    Mapping(Vec<(Node, Node)>),
}

/// A problem found while reading YAML syntax.
#[derive(Debug, Clone)]
pub struct SyntaxProblem {
    pub position: Position,
    pub message: String,
}

impl Node {
    /// A short description of the node's type, for "expected X, found Y" messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar { text, quoted } => {
                if !quoted && is_null(text) {
                    "null"
                } else if !quoted && parse_bool(text).is_some() {
                    "a boolean"
                } else if !quoted && text.parse::<f64>().is_ok() {
                    "a number"
                } else {
                    "a string"
                }
            }
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }

    /// The scalar's text, if this is a non-null scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, quoted } if *quoted || !is_null(text) => Some(text),
            _ => None,
        }
    }

    /// True for an explicit or implicit YAML null (`~`, `null`, empty).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, quoted: false } if is_null(text))
    }
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// YAML 1.2 core-schema booleans.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

enum Frame {
    Sequence {
        position: Position,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        position: Position,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        /// Scalar keys seen, with the line of their first use (duplicates are found in O(1)).
        seen: HashMap<String, usize>,
    },
}

/// Where an event is: its first line and column, and how wide it is on that line.
fn position_of(span: &saphyr_parser::Span, lines: &[&str]) -> Position {
    let start = span.start;
    let width = if span.end.line() == start.line() {
        span.end.index().saturating_sub(start.index()).max(1)
    } else {
        lines
            .get(start.line().saturating_sub(1))
            .map(|line| line.chars().count().saturating_sub(start.col()).max(1))
            .unwrap_or(1)
    };
    Position {
        line: start.line().max(1),
        column: start.col() + 1,
        width,
    }
}

impl Frame {
    /// The finished collection, with its anchor.
    fn close(self) -> (usize, Node) {
        match self {
            Frame::Sequence {
                position,
                anchor,
                items,
            } => (
                anchor,
                Node {
                    position,
                    value: Value::Sequence(items),
                },
            ),
            Frame::Mapping {
                position,
                anchor,
                entries,
                ..
            } => (
                anchor,
                Node {
                    position,
                    value: Value::Mapping(entries),
                },
            ),
        }
    }

    /// Adds a finished node: an item, a key, or a key's value (duplicate keys are reported).
    fn push(&mut self, node: Node, problems: &mut Vec<SyntaxProblem>) {
        match self {
            Frame::Sequence { items, .. } => items.push(node),
            Frame::Mapping {
                entries,
                pending_key,
                seen,
                ..
            } => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    if let Some(text) = key.as_scalar() {
                        match seen.get(text) {
                            Some(first) => problems.push(SyntaxProblem {
                                position: key.position,
                                message: format!(
                                    "duplicate key `{text}` (first defined on line {first})"
                                ),
                            }),
                            None => {
                                seen.insert(text.to_string(), key.position.line);
                            }
                        }
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

/// Reads a YAML document into a [`Node`]. An empty document gives `Ok(None)`.
/// Syntax errors stop the reading (YAML cannot be resynchronised); duplicate keys and
/// multiple documents are reported but reading goes on.
pub fn load(source: &str) -> Result<Option<Node>, Vec<SyntaxProblem>> {
    let lines: Vec<&str> = source.lines().collect();
    let mut problems = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchored node with the number of nodes it holds, so an alias costs what it expands
    // to; `nodes` counts every node the manifest expands to.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut weights: Vec<usize> = Vec::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let too_big = |position: Position, what: String| SyntaxProblem {
        position,
        message: what,
    };

    for event in Parser::new_from_str(source) {
        let (event, span) = match event {
            Ok(pair) => pair,
            Err(error) => {
                let marker = error.marker();
                problems.push(SyntaxProblem {
                    position: Position {
                        line: marker.line().max(1),
                        column: marker.col() + 1,
                        width: 1,
                    },
                    message: format!("invalid YAML: {}", error.info()),
                });
                return Err(problems);
            }
        };
        let position = position_of(&span, &lines);
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    problems.push(SyntaxProblem {
                        position,
                        message: "a manifest is a single YAML document; found a second one"
                            .to_string(),
                    });
                }
                continue;
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    position,
                    value: Value::Scalar {
                        text: text.into_owned(),
                        quoted: style != ScalarStyle::Plain,
                    },
                };
                if anchor > 0 {
                    anchors.insert(anchor, (node.clone(), 1));
                }
                nodes += 1;
                if let Some(w) = weights.last_mut() {
                    *w += 1;
                }
                node
            }
            Event::Alias(anchor) => match anchors.get(&anchor) {
                Some((node, weight)) => {
                    nodes += weight;
                    if nodes > MAX_NODES {
                        problems.push(too_big(position, format!(
                            "the manifest expands to more than {MAX_NODES} YAML nodes through aliases (an alias bomb?); guardform stops reading here"
                        )));
                        return Err(problems);
                    }
                    if let Some(w) = weights.last_mut() {
                        *w += weight;
                    }
                    Node {
                        position,
                        value: node.value.clone(),
                    }
                }
                None => {
                    problems.push(SyntaxProblem {
                        position,
                        message: "alias refers to an unknown anchor".to_string(),
                    });
                    Node {
                        position,
                        value: Value::Scalar {
                            text: String::new(),
                            quoted: false,
                        },
                    }
                }
            },
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                problems.push(too_big(
                    position,
                    format!("mappings and sequences nested deeper than {MAX_DEPTH} levels"),
                ));
                return Err(problems);
            }
            Event::SequenceStart(anchor, _) => {
                weights.push(1);
                stack.push(Frame::Sequence {
                    position,
                    anchor,
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                weights.push(1);
                stack.push(Frame::Mapping {
                    position,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    seen: HashMap::new(),
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((anchor, node)) = stack.pop().map(Frame::close) else {
                    continue;
                };
                let weight = weights.pop().unwrap_or(1);
                nodes += 1;
                if let Some(w) = weights.last_mut() {
                    *w += weight;
                }
                if anchor > 0 {
                    anchors.insert(anchor, (node.clone(), weight));
                }
                node
            }
            _ => continue,
        };
        match stack.last_mut() {
            None => {
                root.get_or_insert(node);
            }
            Some(frame) => frame.push(node, &mut problems),
        }
    }
    if problems.is_empty() {
        Ok(root)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let node = load("a:\n  b: [1, 2]\n").unwrap().unwrap();
        let Value::Mapping(entries) = &node.value else {
            panic!("expected a mapping")
        };
        let (key, value) = &entries[0];
        assert_eq!((key.position.line, key.position.column), (1, 1));
        let Value::Mapping(inner) = &value.value else {
            panic!("expected a mapping")
        };
        assert_eq!(
            (inner[0].0.position.line, inner[0].0.position.column),
            (2, 3)
        );
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let problems = load("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].position.line, 3);
        assert!(problems[0].message.contains("duplicate key `a`"));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let problems = load("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(problems[0].message.starts_with("invalid YAML"));
        assert!(problems[0].position.line >= 1);
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let node = load("'true'").unwrap().unwrap();
        assert_eq!(node.kind_name(), "a string");
        let node = load("true").unwrap().unwrap();
        assert_eq!(node.kind_name(), "a boolean");
    }
}
