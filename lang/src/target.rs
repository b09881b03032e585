//! What preprocessor conditions (`%( kernel_v >= "5.0" %? … %)`) are evaluated against.
//!
//! Choices (stap.1 PREPROCESSING lists the predicates):
//! - `runtime` answers `"dyninst"`: rtap runs handlers in userspace, so scripts written for
//!   stap's userspace (dyninst) runtime take their userspace branches
//!   (`%( runtime == "kernel" %? … %)` picks the other arm).
//! - `arch` answers the kernel's ARCH name of the host (`x86_64`, `arm64`, `arm`, `i386`,
//!   `powerpc`, `s390`, `riscv`…), which is what stap derives from `uname -m`.
//! - `kernel_vr` is the running kernel's release (`/proc/sys/kernel/osrelease`), `kernel_v` the
//!   same up to its first `-`.
//! - `CONFIG_*` come from `/proc/config.gz`, else `/boot/config-$(uname -r)`, read only when a
//!   condition asks; when neither is readable every option is unset (`""`).
//! - `systemtap_v` is the `--compatible` version, by default the SystemTap release rtap follows.
//! - `systemtap_privilege` is `stapdev` (stap's default) and `guru_mode` follows `-g`.
//!
//! Each answer can be overridden (`-r`, `-a`, `--compatible`), which keeps tests independent of
//! the machine they run on.

use std::cell::OnceCell;
use std::io::Read;

use rustc_hash::FxHashMap;

/// The SystemTap release whose language rtap implements (the `systemtap_v` default).
pub const SYSTEMTAP_VERSION: &str = "4.8";

#[derive(Debug)]
pub struct Target {
    /// `kernel_vr`, e.g. `6.1.0-13-amd64`.
    pub kernel_release: String,
    /// The kernel ARCH name, e.g. `x86_64`, `arm64`.
    pub arch: String,
    /// `kernel`, `dyninst` or `bpf`.
    pub runtime: String,
    /// `systemtap_v`.
    pub compatible: String,
    /// `stapusr`, `stapsys` or `stapdev`.
    pub privilege: String,
    pub guru_mode: bool,
    pub kernel_config: KernelConfig,
}

impl Target {
    /// The host rtap runs on.
    pub fn host() -> Target {
        let kernel_release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Target {
            kernel_config: KernelConfig::from_host(&kernel_release),
            kernel_release,
            arch: kernel_arch(std::env::consts::ARCH).to_string(),
            runtime: "dyninst".to_string(),
            compatible: SYSTEMTAP_VERSION.to_string(),
            privilege: "stapdev".to_string(),
            guru_mode: false,
        }
    }

    /// `kernel_v`: the release up to its first `-` (stap's `kernel_base_release`).
    pub fn kernel_version(&self) -> &str {
        self.kernel_release.split('-').next().unwrap_or("")
    }
}

/// Maps Rust's target architecture names to the kernel's ARCH names.
pub fn kernel_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "aarch64" => "arm64",
        "x86" => "i386",
        "powerpc" | "powerpc64" => "powerpc",
        "s390x" => "s390",
        "riscv32" | "riscv64" => "riscv",
        "mips" | "mips64" => "mips",
        "loongarch64" => "loongarch",
        "sparc64" => "sparc",
        other => other,
    }
}

/// Kernel configuration options (`CONFIG_FOO` → `y`, `m`, `"text"`, `42`), loaded on first use.
#[derive(Debug)]
pub struct KernelConfig {
    source: ConfigSource,
    options: OnceCell<FxHashMap<String, String>>,
}

#[derive(Debug)]
enum ConfigSource {
    /// `/proc/config.gz`, else this `/boot/config-RELEASE` file.
    Host {
        boot_config: String,
    },
    Fixed,
}

impl KernelConfig {
    pub fn from_host(kernel_release: &str) -> KernelConfig {
        KernelConfig {
            source: ConfigSource::Host {
                boot_config: format!("/boot/config-{kernel_release}"),
            },
            options: OnceCell::new(),
        }
    }

    /// A given set of options (tests, or a configuration read elsewhere).
    pub fn fixed(options: impl IntoIterator<Item = (String, String)>) -> KernelConfig {
        let cell = OnceCell::new();
        let _ = cell.set(options.into_iter().collect());
        KernelConfig {
            source: ConfigSource::Fixed,
            options: cell,
        }
    }

    /// The value of an option; unset options are `""`, as in stap.
    pub fn get(&self, name: &str) -> &str {
        self.options().get(name).map_or("", String::as_str)
    }

    fn options(&self) -> &FxHashMap<String, String> {
        self.options.get_or_init(|| match &self.source {
            ConfigSource::Host { boot_config } => read_host_config(boot_config)
                .map(|text| parse_config(&text))
                .unwrap_or_default(),
            ConfigSource::Fixed => FxHashMap::default(),
        })
    }
}

fn read_host_config(boot_config: &str) -> Option<String> {
    let from_proc = std::fs::read("/proc/config.gz").ok().and_then(|gz| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .ok()?;
        Some(text)
    });
    from_proc.or_else(|| std::fs::read_to_string(boot_config).ok())
}

/// `.config` syntax: `CONFIG_X=value` lines; `# CONFIG_X is not set` and other comments are
/// ignored. Values are kept as written (quotes included), as stap keeps them.
pub fn parse_config(text: &str) -> FxHashMap<String, String> {
    text.lines()
        .filter(|line| line.starts_with("CONFIG_"))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines() {
        let config = parse_config(
            "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\nCONFIG_HZ=250\n",
        );
        assert_eq!(config.get("CONFIG_A").map(String::as_str), Some("y"));
        assert_eq!(config.get("CONFIG_B"), None);
        assert_eq!(config.get("CONFIG_C").map(String::as_str), Some("\"x y\""));
        assert_eq!(config.get("CONFIG_HZ").map(String::as_str), Some("250"));
    }

    #[test]
    fn base_release() {
        let mut target = Target::host();
        target.kernel_release = "6.1.0-13-amd64".to_string();
        assert_eq!(target.kernel_version(), "6.1.0");
        assert_eq!(kernel_arch("aarch64"), "arm64");
        assert_eq!(kernel_arch("x86_64"), "x86_64");
    }
}
