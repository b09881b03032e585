//! rtap-armsim
