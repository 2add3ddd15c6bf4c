//! Alert outputs (written by the outputs owner).
