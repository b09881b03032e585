//! rtap-kmod
