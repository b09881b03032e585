//! rtap-runtime
