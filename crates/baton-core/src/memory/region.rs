//! Finding baton's region between its two marker lines, and replacing what is inside.

use std::ops::Range;

use super::BEGIN;
use super::END;
use super::MemoryError;

/// Byte ranges of a file split around the region (markers must each be alone on their line,
/// surrounding spaces allowed).
///
/// `before` is everything up to the `BEGIN` line, `inner` everything between the marker lines
/// (whole lines, terminators included), `after` everything following the `END` line's
/// terminator. The marker lines themselves lie between the ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The user's bytes before the `BEGIN` line.
    pub before: Range<usize>,
    /// The bytes between the marker lines.
    pub inner: Range<usize>,
    /// The user's bytes after the `END` line (and its line terminator).
    pub after: Range<usize>,
    /// The 1-based line number of the first inner line.
    pub inner_first_line: usize,
}

/// One line of text: where it starts, where its content ends, where the next line starts.
#[derive(Clone, Copy)]
struct LineSpan {
    start: usize,
    end: usize,
    next: usize,
}

/// Iterates the lines of `text`, `\n`-terminated (a last line without terminator counts).
fn line_spans(text: &str) -> impl Iterator<Item = LineSpan> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= text.len() {
            return None;
        }
        let start = pos;
        let rest = text.get(start..).unwrap_or("");
        match rest.find('\n') {
            Some(i) => {
                pos = start + i + 1;
                Some(LineSpan {
                    start,
                    end: start + i,
                    next: pos,
                })
            }
            None => {
                pos = text.len();
                Some(LineSpan {
                    start,
                    end: text.len(),
                    next: text.len(),
                })
            }
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Begin,
    End,
}

/// Which marker a line is, if it is one (alone on its line, surrounding whitespace allowed).
fn marker(line: &str, first: bool) -> Option<Marker> {
    let line = if first {
        line.trim_start_matches('\u{feff}')
    } else {
        line
    };
    match line.trim() {
        BEGIN => Some(Marker::Begin),
        END => Some(Marker::End),
        _ => None,
    }
}

/// Finds baton's region. `None` when the file has no marker at all; an error when there is only
/// one marker, when `END` comes before `BEGIN`, or when a marker appears twice.
pub fn split(text: &str) -> Result<Option<Split>, MemoryError> {
    // (line number, span) of each marker.
    let mut begins: Vec<(usize, LineSpan)> = Vec::new();
    let mut ends: Vec<(usize, LineSpan)> = Vec::new();
    for (i, span) in line_spans(text).enumerate() {
        let line = text.get(span.start..span.end).unwrap_or("");
        match marker(line, i == 0) {
            Some(Marker::Begin) => begins.push((i + 1, span)),
            Some(Marker::End) => ends.push((i + 1, span)),
            None => {}
        }
    }
    let again = |list: &[(usize, LineSpan)], what: &str| match (list.first(), list.get(1)) {
        (Some((first, _)), Some((second, _))) => Some(MemoryError::new(
            *second,
            format!("`{what}` appears again (first on line {first}): keep a single baton region"),
        )),
        _ => None,
    };
    let dup = match (again(&begins, BEGIN), again(&ends, END)) {
        (Some(a), Some(b)) => Some(if a.line <= b.line { a } else { b }),
        (a, b) => a.or(b),
    };
    if let Some(e) = dup {
        return Err(e);
    }
    match (begins.first(), ends.first()) {
        (None, None) => Ok(None),
        (Some((line, _)), None) => Err(MemoryError::new(
            *line,
            format!("`{BEGIN}` has no closing `{END}` line after it"),
        )),
        (None, Some((line, _))) => Err(MemoryError::new(
            *line,
            format!("`{END}` has no opening `{BEGIN}` line before it"),
        )),
        (Some((bl, b)), Some((el, e))) => {
            if el < bl {
                return Err(MemoryError::new(
                    *el,
                    format!("`{END}` comes before `{BEGIN}` (line {bl})"),
                ));
            }
            Ok(Some(Split {
                before: 0..b.start,
                inner: b.next..e.start,
                after: e.next..text.len(),
                inner_first_line: bl + 1,
            }))
        }
    }
}

/// True when the file's lines end with CRLF (judged by its first line ending).
fn uses_crlf(text: &str) -> bool {
    match text.find('\n') {
        Some(i) => text.get(..i).is_some_and(|s| s.ends_with('\r')),
        None => false,
    }
}

/// Returns `inner` ending with a line terminator (unless empty), in the file's line-ending style.
fn normalize_inner(inner: &str, crlf: bool) -> String {
    let mut out = String::with_capacity(inner.len() + inner.len() / 16 + 2);
    if crlf {
        let mut prev = '\0';
        for c in inner.chars() {
            if c == '\n' && prev != '\r' {
                out.push('\r');
            }
            out.push(c);
            prev = c;
        }
    } else {
        out.push_str(inner);
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    out
}

/// Replaces what is between the markers (marker lines kept), or appends a new region at the end
/// of a file that has none; the user's bytes never change.
///
/// `inner` gets a final line terminator if it lacks one, and its `\n` become `\r\n` when the file
/// uses CRLF. A new region is separated from the user's text by a blank line. Errors: the file's
/// markers are broken (see [`split`]), or `inner` holds a marker line (its line in `inner`).
pub fn splice(text: &str, inner: &str) -> Result<String, MemoryError> {
    if let Some(i) = inner.split('\n').position(|l| marker(l, false).is_some()) {
        return Err(MemoryError::new(
            i + 1,
            "the text to put between the markers contains a marker line",
        ));
    }
    let crlf = uses_crlf(text);
    let nl = if crlf { "\r\n" } else { "\n" };
    let inner = normalize_inner(inner, crlf);
    match split(text)? {
        Some(s) => {
            let head = text.get(..s.inner.start).unwrap_or("");
            let tail = text.get(s.inner.end..).unwrap_or("");
            let mut out = String::with_capacity(head.len() + inner.len() + tail.len());
            out.push_str(head);
            out.push_str(&inner);
            out.push_str(tail);
            Ok(out)
        }
        None => {
            let sep = if text.is_empty() {
                String::new()
            } else if let Some(body) = text.strip_suffix('\n') {
                // The last line is complete: add a blank line unless it is one.
                let last = body.rsplit('\n').next().unwrap_or("");
                if last.trim().is_empty() {
                    String::new()
                } else {
                    nl.to_owned()
                }
            } else {
                // The last line has no terminator: end it, then add a blank line unless it is one.
                let last = text.rsplit('\n').next().unwrap_or("");
                if last.trim().is_empty() {
                    nl.to_owned()
                } else {
                    format!("{nl}{nl}")
                }
            };
            let mut out = String::with_capacity(text.len() + inner.len() + 64);
            out.push_str(text);
            out.push_str(&sep);
            out.push_str(BEGIN);
            out.push_str(nl);
            out.push_str(&inner);
            out.push_str(END);
            out.push_str(nl);
            Ok(out)
        }
    }
}
