//! Source files and byte spans.
//!
//! Every token, AST node and diagnostic points into a [`SourceMap`] with a [`Span`]: a file id
//! plus a byte range. Line and column numbers are computed on demand (1-based; the column counts
//! bytes, as stap's lexer does).

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span {
            file,
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span covering both (same file; otherwise `self`).
    pub fn to(self, other: Span) -> Span {
        if self.file != other.file {
            return self;
        }
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// An empty span just after this one (where something is missing).
    pub fn after(self) -> Span {
        Span {
            file: self.file,
            start: self.end,
            end: self.end,
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}..{}", self.file.0, self.start, self.end)
    }
}

/// What a file is to the translator; decides privileges and default function priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// The user's script (a file, `-e TEXT`, or stdin).
    User,
    /// A tapset library file (`*.stp` on the tapset path): privileged, like stap's library.
    Tapset,
    /// A library macro file (`*.stpm` on the tapset path).
    MacroLibrary,
    /// Text pasted from the command line (`$1`, `@1`, `$#`, `@#`).
    Argument,
}

/// One source text.
#[derive(Debug)]
pub struct SourceFile {
    /// The name used in messages: the path as given, or `<input>` for `-e`.
    pub name: String,
    /// Where it was read from, if it is a real file.
    pub path: Option<PathBuf>,
    pub kind: FileKind,
    pub text: String,
    line_starts: Vec<u32>,
}

impl SourceFile {
    /// 1-based line and byte column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        (line as u32 + 1, offset - self.line_starts[line] + 1)
    }

    /// The text of a 1-based line, without its line terminator.
    pub fn line_text(&self, line: u32) -> &str {
        let idx = (line as usize).saturating_sub(1);
        let start = self.line_starts.get(idx).copied().unwrap_or(0) as usize;
        let end = self
            .line_starts
            .get(idx + 1)
            .map_or(self.text.len(), |&next| next as usize);
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// All source texts of one translation, addressed by [`FileId`].
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a text. Invalid UTF-8 should be converted by the caller
    /// (`String::from_utf8_lossy`); spans then index the converted text.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        path: Option<PathBuf>,
        kind: FileKind,
        text: String,
    ) -> FileId {
        let mut line_starts = vec![0];
        line_starts.extend(starts_after_newlines(&text));
        self.files.push(SourceFile {
            name: name.into(),
            path,
            kind,
            text,
            line_starts,
        });
        FileId(self.files.len() as u32 - 1)
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The text a span covers.
    pub fn text(&self, span: Span) -> &str {
        &self.file(span.file).text[span.range()]
    }

    /// `file:line:col` of the start of a span, as stap prints locations.
    pub fn location(&self, span: Span) -> Location<'_> {
        let file = self.file(span.file);
        let (line, column) = file.line_col(span.start);
        Location {
            file: &file.name,
            line,
            column,
        }
    }
}

fn starts_after_newlines(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i as u32 + 1)
}

/// A resolved source position; displays as `file:line:col`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_bytes() {
        let mut map = SourceMap::new();
        let id = map.add("f.stp", None, FileKind::User, "ab\ncé\n\nx".to_string());
        let span = |start, end| Span {
            file: id,
            start,
            end,
        };
        assert_eq!(map.location(span(0, 1)).to_string(), "f.stp:1:1");
        assert_eq!(map.location(span(4, 5)).to_string(), "f.stp:2:2");
        assert_eq!(map.location(span(7, 7)).to_string(), "f.stp:3:1");
        assert_eq!(map.location(span(8, 9)).to_string(), "f.stp:4:1");
        assert_eq!(map.file(id).line_text(2), "cé");
        assert_eq!(map.text(span(3, 6)), "cé");
    }
}
