//! One device for burn and for raw wgpu: the ring_select WGSL from the shaders crate,
//! dispatched by hand through plain wgpu on `Gpu::device`/`Gpu::queue`, gives the same
//! words as the same kernel launched by core on burn's tensor storage — and both agree
//! with the plain-Rust reference.

use ring_wgpu_core::burn::tensor::{Tensor, TensorData};
use ring_wgpu_core::gpu::testing::test_gpu;
use ring_wgpu_core::ring::{Pairing, RingParams, ring_select, select_reference};
use ring_wgpu_core::{Gpu, RingSpec};
use wgpu::util::DeviceExt;

fn raw_wgpu_select(gpu: &Gpu, sims: &[f32], params: RingParams) -> Vec<u32> {
    let device = &gpu.device;
    let kernel = ring_wgpu_shaders::RING_SELECT;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(kernel.file),
        source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(kernel.file),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let storage = |label: &str, bytes: &[u8]| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        })
    };
    let words = params.rows as usize * 8;
    let sims_buffer = storage("sims", bytemuck::cast_slice(sims));
    let bounds_buffer = storage("bounds", &vec![0u8; words * 4]);
    let params_buffer = storage("params", bytemuck::bytes_of(&params));
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("staging"),
        size: (words * 4) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry { binding: 0, resource: sims_buffer.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 1, resource: bounds_buffer.as_entire_binding() },
            wgpu::BindGroupEntry { binding: 2, resource: params_buffer.as_entire_binding() },
        ],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(params.rows, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&bounds_buffer, 0, &staging, 0, (words * 4) as u64);
    gpu.queue.submit([encoder.finish()]);
    let slice = staging.slice(..);
    slice.map_async(wgpu::MapMode::Read, |r| r.expect("map staging buffer"));
    device.poll(wgpu::PollType::wait_indefinitely()).expect("poll");
    let data = slice.get_mapped_range().expect("mapped range");
    bytemuck::cast_slice(&data).to_vec()
}

#[test]
fn raw_wgpu_and_burn_launch_agree_on_one_device() {
    let gpu = test_gpu().expect("GPU tests need an adapter");
    let (rows, cols) = (7, 1500);
    let mut state = 12345u32;
    let sims: Vec<f32> = (0..rows * cols)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            // Coarse levels: plenty of ties.
            ((state >> 24) % 50) as f32 / 25.0 - 1.0
        })
        .collect();
    let spec = RingSpec::paper();
    let window = spec.window(cols);
    let params = RingParams { rows: rows as u32, cols: cols as u32, lo: window.lo as u32, hi: window.hi as u32, ..RingParams::default() };
    let raw = raw_wgpu_select(gpu, &sims, params);

    let tensor = Tensor::<2>::from_data(TensorData::new(sims.clone(), [rows, cols]), gpu.burn_device());
    let bounds = ring_select(tensor, &spec, Pairing::None).unwrap();
    let through_burn: Vec<u32> =
        pollster::block_on(ring_wgpu_core::gpu::read::read_i64(bounds.words())).unwrap().into_iter().map(|w| w as u32).collect();
    assert_eq!(raw, through_burn);

    let reference = select_reference(&sims, rows, cols, &spec, Pairing::None).unwrap();
    let read = pollster::block_on(bounds.read()).unwrap();
    assert!(read.iter().zip(&reference).all(|(a, b)| a.same_bits(b)));
}
