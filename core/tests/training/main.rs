//! The methods and the `Trainer` of ring-wgpu-core end to end, in one test binary: MoCo,
//! IR, CMC and SimCLR with and without Ring (each Ring form equal to its plain one at
//! u = 100, banks, resumption), and the trainer's events and checkpoints. Run one module with
//! `cargo test --workspace --locked --test training methods::`.

#[path = "../common/mod.rs"]
mod common;

mod cmc;
mod methods;
mod moco;
mod trainer;
