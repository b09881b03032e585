//! Bad inputs get errors, not panics: ELF files and machine configurations.

use rtap_armsim::aarch64::linux::LinuxUser;
use rtap_armsim::{A64Machine, CacheType, ConfigError, LoadError, MachineConfig, load_elf};

#[test]
fn non_elf_and_foreign_elf_files_are_rejected() {
    let mut m = A64Machine::new(MachineConfig::default()).unwrap();
    let space = m.new_address_space();
    assert!(matches!(
        load_elf(&mut m, space, b"not an elf file", true),
        Err(LoadError::Parse(_))
    ));
    // The test binary itself is an ELF file for the host (x86-64 = 62 here).
    let own = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    if cfg!(target_arch = "x86_64") {
        assert!(matches!(
            load_elf(&mut m, space, &own, true),
            Err(LoadError::Machine { found: 62, .. })
        ));
    }
    assert!(LinuxUser::spawn(&mut m, 0, &[0x7f, b'E', b'L', b'F']).is_err());
}

#[test]
fn bad_configurations_are_reported() {
    let bad = |config: MachineConfig| A64Machine::new(config).err();
    assert_eq!(
        bad(MachineConfig {
            cores: 0,
            ..MachineConfig::default()
        }),
        Some(ConfigError::Cores(0))
    );
    assert_eq!(
        bad(MachineConfig {
            cores: 65,
            ..MachineConfig::default()
        }),
        Some(ConfigError::Cores(65))
    );
    let odd_line = CacheType {
        icache_line: 48,
        ..CacheType::default()
    };
    assert_eq!(
        bad(MachineConfig {
            cores: 1,
            cache_types: vec![odd_line],
            ..MachineConfig::default()
        }),
        Some(ConfigError::LineSize {
            core: 0,
            what: "I-cache",
            size: 48
        })
    );
    assert_eq!(
        bad(MachineConfig {
            cache_types: vec![CacheType::default()],
            ..MachineConfig::default()
        }),
        Some(ConfigError::CacheTypes { given: 1, cores: 4 })
    );
    assert_eq!(
        bad(MachineConfig {
            prefetch_depth: 0,
            ..MachineConfig::default()
        }),
        Some(ConfigError::PrefetchDepth(0))
    );
    assert_eq!(
        bad(MachineConfig {
            breakpoints: 1,
            ..MachineConfig::default()
        }),
        Some(ConfigError::Breakpoints(1))
    );
    assert_eq!(
        bad(MachineConfig {
            max_quantum: 0,
            ..MachineConfig::default()
        }),
        Some(ConfigError::Quantum)
    );
}
