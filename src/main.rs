//! The `rtap` command: stap-compatible options, the passes of the library, diagnostics rendered
//! for the terminal. No language logic lives here.

mod render;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rtap_lang::diagnostic::{Diagnostic, Pass, Severity, error_count};
use rtap_lang::session::{Options, Session};
use rtap_lang::source::SourceMap;

/// A SystemTap-compatible tracer: scripts compiled to native code with Cranelift.
#[derive(Parser, Debug)]
#[command(name = "rtap", version, about, max_term_width = 100)]
struct Cli {
    /// Stop after pass N: 1 prints the parse tree, 2 the elaborated program.
    #[arg(short = 'p', value_name = "N", value_parser = clap::value_parser!(u8).range(1..=5))]
    pass: Option<u8>,
    /// Run the script given as text (named `<input>` in messages) instead of a file.
    #[arg(short = 'e', value_name = "SCRIPT")]
    script_text: Option<String>,
    /// Guru mode: allow embedded C and guru-only operators in the script.
    #[arg(short = 'g')]
    guru: bool,
    /// Add a tapset directory (searched after the bundled library, in order).
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Unoptimized: do not elide unused variables, functions and code.
    #[arg(short = 'u')]
    unoptimized: bool,
    /// Suppress warnings.
    #[arg(short = 'w')]
    no_warnings: bool,
    /// Treat warnings as errors.
    #[arg(short = 'W')]
    warnings_as_errors: bool,
    /// More output (with -p2: the bodies of functions and probes).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// The kernel architecture preprocessor conditions see (`arch`).
    #[arg(short = 'a', value_name = "ARCH")]
    arch: Option<String>,
    /// The kernel release preprocessor conditions see (`kernel_v`, `kernel_vr`).
    #[arg(short = 'r', value_name = "RELEASE")]
    kernel_release: Option<String>,
    /// Behave as this SystemTap version (`systemtap_v`).
    #[arg(long, value_name = "VERSION")]
    compatible: Option<String>,
    /// Do not print written-but-never-read globals at the end of the run.
    #[arg(long)]
    no_global_var_display: bool,
    /// The script file (`-` for stdin) and its arguments; with -e, only arguments.
    #[arg(trailing_var_arg = true, value_name = "SCRIPT [ARGS]")]
    rest: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("rtap: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where the bundled tapsets are: `$RTAP_TAPSET_DIR`, else `share/rtap/tapsets` next to an
/// installed binary (`PREFIX/bin/rtap`), else the repository's `tapsets/` (development builds).
fn bundled_tapsets() -> PathBuf {
    if let Some(dir) = std::env::var_os("RTAP_TAPSET_DIR") {
        return PathBuf::from(dir);
    }
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("share/rtap/tapsets")));
    match installed {
        Some(dir) if dir.is_dir() => dir,
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tapsets")),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut options = Options::new();
    options.guru = cli.guru;
    options.unoptimized = cli.unoptimized;
    options.suppress_warnings = cli.no_warnings;
    options.warnings_as_errors = cli.warnings_as_errors;
    options.global_var_display = !cli.no_global_var_display;
    options.target.guru_mode = cli.guru;
    if let Some(arch) = cli.arch {
        options.target.arch = arch;
    }
    if let Some(release) = cli.kernel_release {
        options.target.kernel_release = release;
    }
    if let Some(version) = cli.compatible {
        options.target.compatible = version;
    }
    options.tapset_path.push(bundled_tapsets());
    options.tapset_path.extend(cli.include);

    let mut rest = cli.rest.into_iter();
    let script = match cli.script_text {
        Some(text) => Input::Text(text),
        None => match rest.next() {
            Some(path) if path == "-" => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the script from stdin")?;
                Input::Text(text)
            }
            Some(path) => Input::File(PathBuf::from(path)),
            None => {
                anyhow::bail!("no script given (a file, `-` for stdin, or -e SCRIPT); see --help")
            }
        },
    };
    options.args = rest.collect();

    let mut session = Session::new(options);
    let mut stderr = Reporter {
        color: std::io::stderr().is_terminal(),
        warnings_as_errors: cli.warnings_as_errors,
    };
    match script {
        Input::Text(text) => {
            session.add_user_text("<input>", text);
        }
        Input::File(path) => {
            if let Err(error) = session.add_user_file(&path) {
                eprintln!("{error}");
                eprintln!("{}", Pass::Parse.failure_line());
                return Ok(ExitCode::FAILURE);
            }
        }
    }

    let parsed = session.parse();
    if !stderr.report(&parsed.diagnostics, &session.sources, Pass::Parse) {
        return Ok(ExitCode::FAILURE);
    }
    if cli.pass == Some(1) {
        let files = parsed
            .scripts
            .iter()
            .map(|s| (session.sources.file(s.file).name.as_str(), s));
        print!("{}", rtap_lang::printer::parse_tree_dump(files));
        return Ok(ExitCode::SUCCESS);
    }
    let _ = cli.verbose;
    eprintln!("rtap: only -p1 (parse) is implemented so far");
    Ok(ExitCode::FAILURE)
}

enum Input {
    File(PathBuf),
    Text(String),
}

struct Reporter {
    color: bool,
    warnings_as_errors: bool,
}

impl Reporter {
    /// Renders a pass's diagnostics; prints stap's failure lines and returns `false` if the
    /// pass failed.
    fn report(&mut self, diagnostics: &[Diagnostic], sources: &SourceMap, pass: Pass) -> bool {
        let mut stderr = std::io::stderr().lock();
        for diagnostic in diagnostics {
            let _ = render::render(&mut stderr, diagnostic, sources, self.color);
        }
        let warnings = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        let errors = error_count(diagnostics) + if self.warnings_as_errors { warnings } else { 0 };
        if errors == 0 {
            return true;
        }
        if pass == Pass::Parse {
            let plural = if errors == 1 { "" } else { "s" };
            let _ = writeln!(stderr, "{errors} parse error{plural}.");
        }
        let _ = writeln!(stderr, "{}", pass.failure_line());
        false
    }
}
