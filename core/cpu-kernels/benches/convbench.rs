//! Times the CPU convolution kernels (`cpu::conv`) at one shape, without burn
//! around them: the minimum of 9 calls after one untimed call, per direction. The numbers in
//! the kernels' doc comments were measured with it, alternating two builds.
//!
//! usage: cargo bench -p ring-wgpu-cpu-kernels --bench convbench -- \
//!            BATCH CIN COUT SIDE KERNEL STRIDE PAD [DIRECTIONS]
//! e.g. `32 512 512 4 3 1 1` (ResNet-18's last stage at B = 32); DIRECTIONS is a bit mask:
//! 1 forward, 2 input gradient, 4 weight gradient (default 7). Set RAYON_NUM_THREADS to
//! choose the cores.

use ring_wgpu_cpu_kernels::conv::{ConvGeometry, conv2d_forward, conv2d_input_grad, conv2d_weight_grad};
mod common;

use common::best_ms;

fn main() -> Result<(), String> {
    let usage = "usage: convbench BATCH CIN COUT SIDE KERNEL STRIDE PAD [DIRECTIONS: 1 forward | 2 input grad | 4 weight grad]";
    let a = std::env::args().skip(1).map(|s| s.parse::<usize>()).collect::<Result<Vec<_>, _>>().map_err(|e| format!("{e}\n{usage}"))?;
    if !(7..=8).contains(&a.len()) {
        return Err(usage.into());
    }
    let g = ConvGeometry { batch: a[0], cin: a[1], cout: a[2], height: a[3], width: a[3], kernel: a[4], stride: a[5], pad: a[6] };
    if !g.is_valid() {
        return Err(format!("not a convolution these kernels compute: {g:?}"));
    }
    ring_wgpu_cpu_kernels::malloc_tuning::keep_freed_memory();
    let directions = a.get(7).copied().unwrap_or(7);
    let values = |n: usize, m: usize| (0..n).map(|i| (i % m) as f32 * 0.1 - 0.5).collect::<Vec<f32>>();
    let x = values(g.batch * g.cin * g.height * g.width, 13);
    let w = values(g.cout * g.cin * g.kernel * g.kernel, 7);
    let dy = values(g.batch * g.cout * g.out_height() * g.out_width(), 11);
    let mut sink = 0.0f32;
    if directions & 1 != 0 {
        println!("forward {:.2} ms", best_ms(|| sink += conv2d_forward(&x, &w, &g)[0]));
    }
    if directions & 2 != 0 {
        println!("grad x  {:.2} ms", best_ms(|| sink += conv2d_input_grad(&dy, &w, &g)[0]));
    }
    if directions & 4 != 0 {
        println!("grad w  {:.2} ms", best_ms(|| sink += conv2d_weight_grad(&x, &dy, &g)[0]));
    }
    std::hint::black_box(sink);
    Ok(())
}
