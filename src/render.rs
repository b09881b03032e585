//! Renders front-end diagnostics for the terminal with ariadne (byte spans).
//!
//! Errors are headed with stap's pass prefix (`parse error`, `semantic error`), warnings with
//! `WARNING`, as users of stap know them. Color only when asked (the caller checks whether
//! stderr is a terminal).

use std::io::{self, Write};
use std::ops::Range;

use ariadne::{CharSet, Color, Config, IndexType, Label, Report, ReportKind, Source};
use rtap_lang::diagnostic::{Diagnostic, Severity};
use rtap_lang::source::{FileId, SourceMap};

/// ariadne's view of the source map.
struct Sources<'a> {
    map: &'a SourceMap,
    cache: Vec<Option<Source<&'a str>>>,
}

impl<'a> ariadne::Cache<FileId> for Sources<'a> {
    type Storage = &'a str;

    fn fetch(&mut self, id: &FileId) -> Result<&Source<&'a str>, impl std::fmt::Debug> {
        let index = id.0 as usize;
        if index >= self.cache.len() {
            return Err(format!("no file {index}"));
        }
        let map = self.map;
        Ok(self.cache[index].get_or_insert_with(|| Source::from(map.file(*id).text.as_str())))
    }

    fn display<'b>(&self, id: &'b FileId) -> Option<impl std::fmt::Display + 'b> {
        Some(self.map.file(*id).name.clone())
    }
}

pub fn render(
    out: &mut impl Write,
    diagnostic: &Diagnostic,
    sources: &SourceMap,
    color: bool,
) -> io::Result<()> {
    let (kind, label_color) = match diagnostic.severity {
        Severity::Error => (
            ReportKind::Custom(diagnostic.pass.error_prefix(), Color::Red),
            Color::Red,
        ),
        Severity::Warning => (ReportKind::Custom("WARNING", Color::Yellow), Color::Yellow),
    };
    let Some(span) = diagnostic.span else {
        // Whole-program conditions have no source to show.
        writeln!(out, "{kind}: {}", diagnostic.message)?;
        for note in &diagnostic.notes {
            writeln!(out, "  = note: {note}")?;
        }
        if let Some(help) = &diagnostic.help {
            writeln!(out, "  = help: {help}")?;
        }
        return Ok(());
    };
    let range = |s: rtap_lang::source::Span| -> (FileId, Range<usize>) { (s.file, s.range()) };
    let config = Config::default()
        .with_index_type(IndexType::Byte)
        .with_color(color)
        .with_char_set(CharSet::Unicode);
    // The primary span is always underlined, with its text when there is one.
    // ariadne starts a new snippet whenever a label lies above the previous one, so labels go
    // in source order.
    let mut labels = vec![(
        span,
        diagnostic.label.as_deref().unwrap_or("here"),
        label_color,
    )];
    labels.extend(
        diagnostic
            .secondary
            .iter()
            .map(|l| (l.span, l.message.as_str(), Color::Blue)),
    );
    labels.sort_by_key(|(span, ..)| (span.file, span.start));
    let mut report = Report::build(kind, range(span))
        .with_config(config)
        .with_message(&diagnostic.message);
    for (order, (span, message, color)) in labels.into_iter().enumerate() {
        let label = Label::new(range(span))
            .with_message(message)
            .with_color(color)
            .with_order(order as i32);
        report = report.with_label(label);
    }
    for note in &diagnostic.notes {
        report = report.with_note(note);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    let cache = Sources {
        map: sources,
        cache: (0..sources.len()).map(|_| None).collect(),
    };
    let mut rendered = Vec::new();
    report.finish().write(cache, &mut rendered)?;
    if !color {
        // ariadne 0.6 paints a custom report kind's header even with color off.
        rendered = strip_ansi(&rendered);
    }
    out.write_all(&rendered)
}

/// Removes ANSI SGR sequences (`ESC [ … m`).
fn strip_ansi(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == 0x1b && text.get(i + 1) == Some(&b'[') {
            let end = text[i + 2..].iter().position(|&b| b == b'm');
            if let Some(end) = end {
                i += end + 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}
