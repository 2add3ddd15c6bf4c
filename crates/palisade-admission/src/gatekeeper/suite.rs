//! `gator verify` test suites (to be written).
