//! SCIM filters (RFC 7644 section 3.4.2.2): a typed tree, its parser, its printer and
//! its evaluator.
//!
//! The tree is public so that the storage layer can plan index lookups from it
//! (see [`Filter::required_equalities`]).

mod display;
mod eval;
mod parse;

pub use parse::{MAX_DEPTH, MAX_TERMS, parse};

use crate::path::AttrPath;

/// A parsed filter. `And` and `Or` hold two or more operands and never a direct
/// child of their own kind (the parser flattens `a and (b and c)`), so printing and
/// parsing again gives the same tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the multi-valued `attr` matches `filter`, whose
    /// paths name sub-attributes. Entra's `emails[type eq "work"].value eq "x"` parses
    /// as `emails[type eq "work" and value eq "x"]`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// A comparison literal. dateTime literals are strings; they compare as instants
/// when the attribute is a dateTime.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
}

impl Filter {
    /// The `attr eq "literal"` terms every match must satisfy: the filter itself when
    /// it is one, or the direct operands of a top-level `and`. The storage layer
    /// looks one of them up in an index and evaluates the whole filter on the rest.
    pub fn required_equalities(&self) -> Vec<(&AttrPath, &str)> {
        let terms = match self {
            Filter::And(operands) => operands.as_slice(),
            other => std::slice::from_ref(other),
        };
        terms
            .iter()
            .filter_map(|term| match term {
                Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(text) } => Some((path, text.as_str())),
                _ => None,
            })
            .collect()
    }
}
