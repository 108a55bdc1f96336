//! The filter parser: a depth-bounded recursive descent over a one-token-lookahead
//! lexer. Precedence is `not` > `and` > `or`; `And`/`Or` come out flattened.

use super::{CompValue, CompareOp, Filter};
use crate::error::{Result, ScimError};
use crate::path::{AttrPath, is_attr_name};

/// Deepest nesting of parentheses, `not`s and value paths a filter may have. The
/// parser recurses once per level, so this bound is also what keeps it off the end
/// of the stack.
pub const MAX_DEPTH: usize = 32;

/// Most comparisons (`attr op value` and `attr pr`) a filter may hold.
pub const MAX_TERMS: usize = 1000;

const COMPARISON_OPERATORS: &str = "a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or \"pr\"";

/// Parses a SCIM filter. Errors are `invalidFilter` with a detail that names the
/// 1-based character position, what was expected and what was found.
pub fn parse(input: &str) -> Result<Filter> {
    let mut parser = Parser { lexer: Lexer { input, pos: 0, peeked: None }, depth: 0, deepest: 0, terms: 0, in_brackets: false };
    if matches!(parser.lexer.peek()?.kind, Kind::End) {
        return Err(error_at(input, 0, "empty filter"));
    }
    let filter = parser.parse_or()?;
    let next = parser.lexer.next()?;
    match next.kind {
        Kind::End => Ok(filter),
        _ => Err(parser.unexpected(&next, "\"and\", \"or\" or the end of the filter")),
    }
}

fn error_at(input: &str, byte: usize, message: &str) -> ScimError {
    ScimError::invalid_filter(format!("invalid filter at position {}: {message}", position(input, byte)))
}

fn position(input: &str, byte: usize) -> usize {
    input.get(..byte).map_or(0, |before| before.chars().count()) + 1
}

fn too_complex(input: &str, byte: usize, what: &str) -> ScimError {
    ScimError::invalid_filter(format!("filter too complex: {what} (at position {})", position(input, byte)))
}

enum Kind<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A bare token: an attribute path, a keyword, an operator or an unquoted value.
    Word(&'a str),
    Str(String),
    End,
}

struct Token<'a> {
    kind: Kind<'a>,
    /// Byte range in the input.
    start: usize,
    end: usize,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    peeked: Option<Token<'a>>,
}

impl<'a> Lexer<'a> {
    fn peek(&mut self) -> Result<&Token<'a>> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.scan()?,
        };
        Ok(self.peeked.insert(token))
    }

    fn next(&mut self) -> Result<Token<'a>> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.scan(),
        }
    }

    fn scan(&mut self) -> Result<Token<'a>> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let trimmed = rest.trim_start();
        let start = self.pos + (rest.len() - trimmed.len());
        let mut chars = trimmed.char_indices();
        let Some((_, first)) = chars.next() else {
            self.pos = start;
            return Ok(Token { kind: Kind::End, start, end: start });
        };
        let (kind, len) = match first {
            '(' => (Kind::LParen, 1),
            ')' => (Kind::RParen, 1),
            '[' => (Kind::LBracket, 1),
            ']' => (Kind::RBracket, 1),
            '"' => {
                let len =
                    string_len(trimmed).ok_or_else(|| error_at(self.input, start, &format!("unterminated string {}", shorten(trimmed))))?;
                let literal = trimmed.get(..len).unwrap_or_default();
                (
                    Kind::Str(
                        unescape(literal).ok_or_else(|| error_at(self.input, start, &format!("invalid string {}", shorten(literal))))?,
                    ),
                    len,
                )
            }
            _ => {
                let len = chars.find(|&(_, c)| ends_word(c)).map_or(trimmed.len(), |(at, _)| at);
                (Kind::Word(trimmed.get(..len).unwrap_or_default()), len)
            }
        };
        self.pos = start + len;
        Ok(Token { kind, start, end: self.pos })
    }
}

/// Words stop where a filter's punctuation starts, so `emails[type` and
/// `(userName` split without spaces, while URNs with `:` and `.` stay one word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Byte length of the JSON string literal at the start of `text`, closing quote
/// included, or `None` when it is never closed.
fn string_len(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(at + 1),
            _ => {}
        }
    }
    None
}

fn unescape(literal: &str) -> Option<String> {
    let inner = literal.get(1..literal.len().saturating_sub(1))?;
    // Most literals have nothing to unescape and no control characters (which JSON
    // forbids raw): copy them rather than running the JSON parser.
    if inner.bytes().all(|b| b != b'\\' && b >= 0x20) {
        return Some(inner.to_string());
    }
    serde_json::from_str(literal).ok()
}

/// A token for an error message: quoted and cut short, so that a megabyte of input
/// does not come back in the error.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 40;
    match text.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{}...", text.get(..at).unwrap_or_default()),
        None => text.to_string(),
    }
}

fn parse_operator(word: &str) -> Option<CompareOp> {
    const OPERATORS: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];
    OPERATORS.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
}

fn is_keyword(token: &Token<'_>, keyword: &str) -> bool {
    matches!(token.kind, Kind::Word(word) if word.eq_ignore_ascii_case(keyword))
}

/// An unquoted value: `true`, `false`, `null` in any case, a JSON number, or else a
/// string (Entra sends `externalId eq jyoung`).
fn bare_value(word: &str) -> CompValue {
    if word.eq_ignore_ascii_case("true") {
        return CompValue::Bool(true);
    }
    if word.eq_ignore_ascii_case("false") {
        return CompValue::Bool(false);
    }
    if word.eq_ignore_ascii_case("null") {
        return CompValue::Null;
    }
    match word.parse::<serde_json::Number>() {
        // serde_json's float parsing may be one unit in the last place off without its
        // `float_roundtrip` feature; Rust's own is exact, so printing round-trips.
        Ok(number) if number.is_f64() => match word.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(exact) => CompValue::Number(exact),
            None => CompValue::Number(number),
        },
        Ok(number) => CompValue::Number(number),
        Err(_) => CompValue::Str(word.to_string()),
    }
}

#[derive(Clone, Copy)]
enum Logic {
    And,
    Or,
}

impl Logic {
    fn keyword(self) -> &'static str {
        match self {
            Logic::And => "and",
            Logic::Or => "or",
        }
    }

    /// Joins operands, splicing in those of an operand of the same kind, so that the
    /// tree is the same however the input was parenthesised.
    fn join(self, operands: Vec<Filter>) -> Filter {
        let mut flat = Vec::with_capacity(operands.len());
        for operand in operands {
            match (self, operand) {
                (Logic::And, Filter::And(inner)) | (Logic::Or, Filter::Or(inner)) => flat.extend(inner),
                (_, other) => flat.push(other),
            }
        }
        match self {
            Logic::And => Filter::And(flat),
            Logic::Or => Filter::Or(flat),
        }
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    depth: usize,
    /// The deepest level reached since the innermost value path began; see
    /// [`Parser::parse_value_path`].
    deepest: usize,
    terms: usize,
    in_brackets: bool,
}

impl<'a> Parser<'a> {
    fn error(&self, byte: usize, message: &str) -> ScimError {
        error_at(self.lexer.input, byte, message)
    }

    fn unexpected(&self, found: &Token<'_>, expected: &str) -> ScimError {
        self.error(found.start, &format!("expected {expected}, found {}", self.describe(found)))
    }

    fn describe(&self, token: &Token<'_>) -> String {
        match token.kind {
            Kind::End => "the end of the filter".to_string(),
            Kind::Str(_) => shorten(self.lexer.input.get(token.start..token.end).unwrap_or_default()),
            _ => format!("\"{}\"", shorten(self.lexer.input.get(token.start..token.end).unwrap_or_default())),
        }
    }

    fn enter(&mut self, byte: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(too_complex(
                self.lexer.input,
                byte,
                &format!("more than {MAX_DEPTH} nested parentheses, \"not\"s and value paths"),
            ));
        }
        self.deepest = self.deepest.max(self.depth);
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn count_term(&mut self, byte: usize) -> Result<()> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(too_complex(self.lexer.input, byte, &format!("more than {MAX_TERMS} comparisons")));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Filter> {
        self.parse_chain(Logic::Or, Self::parse_and)
    }

    fn parse_and(&mut self) -> Result<Filter> {
        self.parse_chain(Logic::And, Self::parse_unary)
    }

    /// `operand (keyword operand)*`.
    fn parse_chain(&mut self, logic: Logic, operand: fn(&mut Self) -> Result<Filter>) -> Result<Filter> {
        let first = operand(self)?;
        if !is_keyword(self.lexer.peek()?, logic.keyword()) {
            return Ok(first);
        }
        let mut operands = vec![first];
        while is_keyword(self.lexer.peek()?, logic.keyword()) {
            self.lexer.next()?;
            operands.push(operand(self)?);
        }
        Ok(logic.join(operands))
    }

    fn parse_unary(&mut self) -> Result<Filter> {
        let token = self.lexer.next()?;
        match token.kind {
            Kind::LParen => {
                self.enter(token.start)?;
                let inner = self.parse_or()?;
                self.close(&token)?;
                self.leave();
                Ok(inner)
            }
            Kind::Word(word) if word.eq_ignore_ascii_case("not") && self.not_is_operator()? => {
                self.enter(token.start)?;
                // RFC 7644 writes `not (filter)`; `not attr op value` is accepted too.
                let inner = match self.lexer.peek()?.kind {
                    Kind::LParen => {
                        let open = self.lexer.next()?;
                        let inner = self.parse_or()?;
                        self.close(&open)?;
                        inner
                    }
                    _ => self.parse_unary()?,
                };
                self.leave();
                Ok(Filter::Not(Box::new(inner)))
            }
            Kind::Word(word) => self.parse_attribute_expression(word, &token),
            _ => Err(self.unexpected(&token, "an attribute path, \"not\" or \"(\"")),
        }
    }

    /// Whether a `not` just read is the operator rather than an attribute named `not`
    /// (`not eq "x"`, `not pr`, `not[...]`).
    fn not_is_operator(&mut self) -> Result<bool> {
        Ok(match self.lexer.peek()?.kind {
            Kind::LBracket => false,
            Kind::Word(word) => !(word.eq_ignore_ascii_case("pr") || parse_operator(word).is_some()),
            _ => true,
        })
    }

    /// Reads the `)` or `]` that must close `open`.
    fn close(&mut self, open: &Token<'_>) -> Result<()> {
        let token = self.lexer.next()?;
        let (closes, symbol, opener) = match open.kind {
            Kind::LBracket => (matches!(token.kind, Kind::RBracket), "]", "["),
            _ => (matches!(token.kind, Kind::RParen), ")", "("),
        };
        if closes {
            return Ok(());
        }
        let at = position(self.lexer.input, open.start);
        Err(self.unexpected(&token, &format!("\"and\", \"or\" or \"{symbol}\" to close the \"{opener}\" at position {at}")))
    }

    fn parse_attribute_expression(&mut self, word: &str, token: &Token<'_>) -> Result<Filter> {
        let Some(path) = AttrPath::parse(word) else {
            return Err(self.unexpected(token, "an attribute path, \"not\" or \"(\""));
        };
        if self.in_brackets && (path.urn.is_some() || path.sub.is_some()) {
            return Err(self.unexpected(token, "a sub-attribute name inside \"[...]\""));
        }
        let next = self.lexer.next()?;
        match next.kind {
            Kind::LBracket if self.in_brackets => Err(self.error(next.start, "value paths cannot be nested")),
            Kind::LBracket if path.sub.is_some() => {
                Err(self
                    .error(next.start, &format!("a value path needs an attribute without a sub-attribute, found \"{}\"", shorten(word))))
            }
            Kind::LBracket => self.parse_value_path(path, &next),
            _ => self.parse_comparison(path, word, next),
        }
    }

    /// The rest of `attr op value` or `attr pr`, from the token after the path.
    fn parse_comparison(&mut self, path: AttrPath, path_text: &str, token: Token<'_>) -> Result<Filter> {
        let op = match token.kind {
            Kind::Word(word) if word.eq_ignore_ascii_case("pr") => {
                self.count_term(token.start)?;
                return Ok(Filter::Present(path));
            }
            Kind::Word(word) => parse_operator(word),
            _ => None,
        };
        let Some(op) = op else {
            return Err(self.unexpected(&token, &format!("{COMPARISON_OPERATORS} after \"{}\"", shorten(path_text))));
        };
        self.count_term(token.start)?;
        let value_token = self.lexer.next()?;
        let value = match value_token.kind {
            Kind::Str(text) => CompValue::Str(text),
            Kind::Word(word) => bare_value(word),
            _ => {
                let expected = format!("a value (a \"string\", a number, true, false or null) after \"{}\"", op.as_str());
                return Err(self.unexpected(&value_token, &expected));
            }
        };
        Ok(Filter::Compare { path, op, value })
    }

    /// `attr[filter]`, and Entra's `attr[filter].sub op value`, from after the `[`.
    fn parse_value_path(&mut self, path: AttrPath, open: &Token<'_>) -> Result<Filter> {
        // Printing `emails[a or b].value eq "x"` as `emails[(a or b) and value eq "x"]`
        // adds a level of parentheses; tracking the deepest level inside the brackets
        // keeps what this parser accepts printable within MAX_DEPTH.
        let outer_deepest = self.deepest;
        self.deepest = 0;
        self.enter(open.start)?;
        self.in_brackets = true;
        let inner = self.parse_or()?;
        self.close(open)?;
        self.in_brackets = false;
        self.leave();
        let mut inner_deepest = self.deepest;

        let suffix = match self.lexer.peek()?.kind {
            Kind::Word(word) => word.strip_prefix('.'),
            _ => None,
        };
        let filter = match suffix {
            None => inner,
            Some(sub) => {
                let sub_token = self.lexer.next()?;
                if !is_attr_name(sub) {
                    return Err(self.unexpected(&sub_token, "a sub-attribute name after \"].\""));
                }
                let operator = self.lexer.next()?;
                let extra = self.parse_comparison(AttrPath::new(sub), sub, operator)?;
                if matches!(inner, Filter::Or(_)) {
                    inner_deepest += 1;
                    if inner_deepest > MAX_DEPTH {
                        return Err(too_complex(self.lexer.input, open.start, &format!("more than {MAX_DEPTH} levels of nesting")));
                    }
                }
                Logic::And.join(vec![inner, extra])
            }
        };
        self.deepest = outer_deepest.max(inner_deepest);
        Ok(Filter::ValuePath { path, filter: Box::new(filter) })
    }
}
