//! Integration checks across the workspace crates.
