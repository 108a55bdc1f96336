//! Canonical filter text: `parse(&filter.to_string())` gives back `filter` for every
//! tree the parser can produce.

use super::{CompValue, Filter};
use std::fmt;

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(operands) => {
                for (index, operand) in operands.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" and ")?;
                    }
                    // `and` binds tighter than `or`, so an `or` operand needs parentheses.
                    match operand {
                        Filter::Or(_) => write!(f, "({operand})")?,
                        _ => write!(f, "{operand}")?,
                    }
                }
                Ok(())
            }
            Filter::Or(operands) => {
                for (index, operand) in operands.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" or ")?;
                    }
                    write!(f, "{operand}")?;
                }
                Ok(())
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(value) => write!(f, "{value}"),
            CompValue::Number(number) => write!(f, "{number}"),
            CompValue::Str(text) => f.write_str(&serde_json::to_string(text).map_err(|_| fmt::Error)?),
        }
    }
}
