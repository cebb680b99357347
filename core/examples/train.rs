//! Train MoCoRing with the library: the quick preset's run, longer, on whatever device
//! `auto` picks (a hardware GPU, else burn's CPU backend), printing each epoch's metrics
//! and keeping the final checkpoint's bytes.
//!
//!     cargo run --release -p ring-wgpu-core --example train

use ring_wgpu_core::Compute;
use ring_wgpu_core::train::{Datasets, SinkFn, TrainConfig, TrainEvent, Trainer, preset};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // glibc's default malloc thresholds cost a CPU step about a quarter of its time.
    ring_wgpu_core::cpu::malloc_tuning::keep_freed_memory();
    let config = TrainConfig { epochs: 30, ..preset("quick")? };
    // In a browser: Datasets::synthetic, or data::cifar10_from_archive on the archive's bytes.
    let datasets = Datasets::load(&config)?;
    // On the web: the async Compute::open.
    let compute = Compute::open_blocking(Default::default(), &Default::default())?;
    println!("device: {compute}");
    let mut trainer = Trainer::new(config, datasets, compute.burn_device())?;
    // stop.stop() (from another thread, or a Ctrl-C handler) ends the run before its next step.
    let _stop = trainer.stop_handle();
    pollster::block_on(trainer.fit(&mut SinkFn(|e: &TrainEvent<'_>| {
        if let TrainEvent::Epoch(m) = e {
            println!("epoch {:>2}: loss {:?}, kNN top-1 {:?}", m.epoch, m.loss, m.knn_top1);
        }
        Ok(())
    })))?;
    // Trainer::from_checkpoint(&bytes, ..) continues the run from these bytes.
    let bytes = pollster::block_on(trainer.checkpoint())?;
    println!("checkpoint: {} bytes", bytes.len());
    Ok(())
}
