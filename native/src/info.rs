//! `ring-wgpu info`: what wgpu sees, and what we would use.

use anyhow::Result;
use ring_wgpu_core::gpu::list_adapters;

use crate::GpuArgs;

pub fn run(args: &GpuArgs) -> Result<()> {
    let options = args.options()?;
    let adapters = pollster::block_on(list_adapters(options.backend));
    println!("Adapters for backend `{}` (best first):", options.backend);
    if adapters.is_empty() {
        println!("  (none)");
    }
    for (i, adapter) in adapters.iter().enumerate() {
        let software = if adapter.is_software { "  [software]" } else { "" };
        println!("  {i}: {adapter}{software}");
    }
    let gpu = args.open()?;
    let limits = gpu.kernel_limits();
    println!("\nChosen: {}", gpu.summary());
    if gpu.summary().is_software {
        println!("  (a software rasteriser: correct but slow; real speed needs a GPU)");
    }
    if cfg!(feature = "autotune") {
        println!("Kernel choice: burn's autotune (the first step of each new shape times candidate kernels)");
        if gpu.summary().is_software {
            println!("  (on a software rasteriser compiling the candidates takes minutes per new shape)");
        }
    } else {
        println!("Kernel choice: fixed kernels (built without the `autotune` feature: GPU training is several times slower)");
    }
    println!("\nLimits that bind the Ring kernels:");
    println!("  invocations per workgroup   {:>14}  (kernels use 256)", limits.max_invocations_per_workgroup);
    println!("  workgroup memory            {:>14}  bytes (ring_select uses about 2 KiB)", limits.max_workgroup_storage_bytes);
    println!("  storage buffers per stage   {:>14}  (kernels bind at most 4)", limits.max_storage_buffers_per_stage);
    println!(
        "  storage binding size        {:>14}  bytes (= {} similarities per launch)",
        limits.max_storage_buffer_binding_size,
        limits.max_storage_buffer_binding_size / 4
    );
    println!("  buffer size                 {:>14}  bytes", limits.max_buffer_size);
    println!("  workgroups per dimension    {:>14}", limits.max_workgroups_per_dimension);
    println!("  subgroups                   {:>14}  (not needed)", if limits.subgroups { "yes" } else { "no" });
    Ok(())
}
