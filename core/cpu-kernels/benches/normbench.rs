//! Times the CPU batch norm kernels (`cpu::norm::kernels`, training mode) at one shape,
//! without burn around them: the minimum of 9 calls after one untimed call, forward and
//! backward. The numbers in the kernels' doc comments were measured with it, alternating two
//! builds.
//!
//! usage: cargo bench -p ring-wgpu-cpu-kernels --bench normbench -- BATCH CHANNELS SIDE
//! e.g. `64 16 32` (the small encoder's first stage at B = 64). Set RAYON_NUM_THREADS to
//! choose the cores.

use ring_wgpu_cpu_kernels::norm::{NormGeometry, batch_norm_train, batch_norm_train_backward};
mod common;

use common::best_ms;

fn main() -> Result<(), String> {
    let usage = "usage: normbench BATCH CHANNELS SIDE";
    let a = std::env::args().skip(1).map(|s| s.parse::<usize>()).collect::<Result<Vec<_>, _>>().map_err(|e| format!("{e}\n{usage}"))?;
    let [batch, channels, side] = a[..] else { return Err(usage.into()) };
    if batch * channels * side == 0 {
        return Err(format!("every size must be positive\n{usage}"));
    }
    ring_wgpu_cpu_kernels::malloc_tuning::keep_freed_memory();
    let g = NormGeometry { batch, channels, plane: side * side };
    let n = batch * channels * side * side;
    let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.1 - 0.5).collect();
    let dy: Vec<f32> = (0..n).map(|i| (i % 11) as f32 * 0.1 - 0.5).collect();
    let (gamma, beta) = (vec![1.5f32; channels], vec![0.25f32; channels]);
    let stats = batch_norm_train(&x, &gamma, &beta, 1e-5, &g);
    let mut sink = 0.0f32;
    println!("forward  {:.3} ms", best_ms(|| sink += batch_norm_train(&x, &gamma, &beta, 1e-5, &g).output[0]));
    println!(
        "backward {:.3} ms",
        best_ms(|| sink += batch_norm_train_backward(&x, &gamma, &stats.mean, &stats.variance, 1e-5, &dy, &g).x[0])
    );
    std::hint::black_box(sink);
    Ok(())
}
