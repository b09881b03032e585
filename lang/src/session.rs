//! One translation: the options, the source files, and the passes run over them.
//!
//! ```text
//! let mut session = Session::new(options);
//! session.add_user_file(path)?;            // or add_user_text("<input>", text)
//! let parsed = session.parse();            // pass 1: user files
//! ```
//! Diagnostics are returned, never printed.

use std::path::{Path, PathBuf};

use crate::ast::Script;
use crate::diagnostic::{self, Diagnostic, Pass};
use crate::lexer;
use crate::parser::{self, ParseOptions};
use crate::preprocess::{self, PpEnv, PpState};
use crate::source::{FileId, FileKind, SourceMap};
use crate::target::Target;
use crate::token::TokenKind;

/// Everything that changes how a script is translated.
#[derive(Debug)]
pub struct Options {
    /// `-g`: embedded C and guru-only operators are allowed in the user's script.
    pub guru: bool,
    /// Command-line arguments for `$1`/`@1`…
    pub args: Vec<String>,
    /// Tapset directories in search order: the bundled library first, then each `-I DIR`.
    pub tapset_path: Vec<PathBuf>,
    /// What preprocessor conditions see.
    pub target: Target,
    /// `-u`: do not elide unused code.
    pub unoptimized: bool,
    /// `-w`: no warnings.
    pub suppress_warnings: bool,
    /// `-W`: warnings are errors.
    pub warnings_as_errors: bool,
    /// Synthesize the end-of-run display of written-but-never-read globals (stap's default;
    /// `--no-global-var-display` turns it off).
    pub global_var_display: bool,
}

impl Options {
    /// stap's defaults, on the host.
    pub fn new() -> Options {
        Options {
            guru: false,
            args: Vec::new(),
            tapset_path: Vec::new(),
            target: Target::host(),
            unoptimized: false,
            suppress_warnings: false,
            warnings_as_errors: false,
            global_var_display: true,
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::new()
    }
}

/// A user input that could not be read (stap's wording).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("Input file '{0}' is missing.")]
    Missing(String),
    #[error("Input file '{name}' can't be opened for reading.")]
    Unreadable {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// The result of pass 1.
#[derive(Debug)]
pub struct Parsed {
    /// The user's files, in the order they were added.
    pub scripts: Vec<Script>,
    pub diagnostics: Vec<Diagnostic>,
}

pub struct Session {
    pub sources: SourceMap,
    pub options: Options,
    pp: PpState,
    user_files: Vec<FileId>,
}

impl Session {
    pub fn new(options: Options) -> Session {
        Session {
            sources: SourceMap::new(),
            options,
            pp: PpState::default(),
            user_files: Vec::new(),
        }
    }

    /// Adds the user's script from a file (`-` is not special here; the caller reads stdin).
    pub fn add_user_file(&mut self, path: &Path) -> Result<FileId, InputError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => InputError::Missing(name.clone()),
            _ => InputError::Unreadable {
                name: name.clone(),
                source,
            },
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let id = self
            .sources
            .add(name, Some(path.to_path_buf()), FileKind::User, text);
        self.user_files.push(id);
        Ok(id)
    }

    /// Adds the user's script from text (`-e`: stap names it `<input>`).
    pub fn add_user_text(&mut self, name: &str, text: String) -> FileId {
        let id = self.sources.add(name, None, FileKind::User, text);
        self.user_files.push(id);
        id
    }

    /// Pass 1: load the library macros (`*.stpm` on the tapset path), then lex, preprocess and
    /// parse the user's files.
    pub fn parse(&mut self) -> Parsed {
        let mut parsed = Parsed {
            scripts: Vec::new(),
            diagnostics: Vec::new(),
        };
        self.load_library_macros(&mut parsed.diagnostics);
        for file in self.user_files.clone() {
            let (script, diagnostics) = self.parse_file(file, self.options.guru);
            parsed.diagnostics.extend(diagnostics);
            parsed.scripts.push(script);
        }
        parsed
    }

    /// Reads every `*.stpm` file on the tapset path. A file that defines a macro another one
    /// already defined, or that holds anything but definitions, contributes nothing (stap's
    /// `parse_library_macros`).
    fn load_library_macros(&mut self, diagnostics: &mut Vec<Diagnostic>) {
        for path in tapset_files(&self.options.tapset_path, "stpm") {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let name = path.display().to_string();
            let file = self
                .sources
                .add(name.clone(), Some(path), FileKind::MacroLibrary, text);
            let lexed = lexer::lex(&self.sources, file);
            let env = PpEnv {
                target: &self.options.target,
                args: &self.options.args,
            };
            let pp = preprocess::preprocess(&mut self.pp, env, &mut self.sources, lexed.tokens);
            let mut ok = !diagnostic::has_errors(&pp.diagnostics);
            diagnostics.extend(pp.diagnostics);
            if let Some(token) = pp.tokens.iter().find(|t| t.kind != TokenKind::Reported) {
                let message = format!("unexpected token in library macro file '{name}'");
                diagnostics.push(Diagnostic::error(Pass::Parse, message).at(token.span));
                ok = false;
            }
            for (macro_name, def) in &pp.macros {
                if let Some(previous) = self.pp.library_macros.get(macro_name) {
                    let message = format!("duplicate definition of library macro '@{macro_name}'");
                    let first = format!("macro '@{macro_name}' first defined here");
                    diagnostics.push(
                        Diagnostic::error(Pass::Parse, message)
                            .at(def.site)
                            .with_secondary(previous.site, first),
                    );
                    ok = false;
                }
            }
            if ok {
                self.pp.library_macros.extend(pp.macros);
            }
        }
    }

    /// Lexes, preprocesses and parses one file.
    fn parse_file(&mut self, file: FileId, privileged: bool) -> (Script, Vec<Diagnostic>) {
        let lexed = lexer::lex(&self.sources, file);
        let saw_tokens = !lexed.tokens.is_empty();
        let env = PpEnv {
            target: &self.options.target,
            args: &self.options.args,
        };
        let pp = preprocess::preprocess(&mut self.pp, env, &mut self.sources, lexed.tokens);
        let (script, parse_diagnostics) =
            parser::parse(&self.sources, file, &pp.tokens, ParseOptions { privileged });
        let mut diagnostics = lexed.warnings;
        diagnostics.extend(pp.diagnostics);
        diagnostics.extend(parse_diagnostics);
        // In source order, whichever stage found them (stap reports as it reads).
        diagnostics.sort_by_key(|d| d.span.map(|s| (s.file != file, s.start)));
        let source = self.sources.file(file);
        if pp.tokens.is_empty() && source.kind == FileKind::User {
            let message = if saw_tokens {
                format!("Input file '{}' is empty after preprocessing.", source.name)
            } else {
                format!("Input file '{}' is empty.", source.name)
            };
            diagnostics.push(Diagnostic::error(Pass::Parse, message));
        }
        (script, diagnostics)
    }
}

/// The files with this extension under each tapset directory, recursively; each directory's
/// files in name order, directories in search-path order.
pub fn tapset_files(path: &[PathBuf], extension: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() {
                walk(&entry, extension, out);
            } else if entry.extension().is_some_and(|e| e == extension) {
                out.push(entry);
            }
        }
    }
    let mut out = Vec::new();
    for dir in path {
        walk(dir, extension, &mut out);
    }
    out
}
