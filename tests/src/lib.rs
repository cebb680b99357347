//! Cross-crate and end-to-end tests of ring-wgpu live in `tests/`; this crate has no
//! library code of its own.
