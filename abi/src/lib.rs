//! rtap-abi
