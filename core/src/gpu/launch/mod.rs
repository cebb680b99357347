//! Running our WGSL kernels on burn tensor storage.
//!
//! The one way used throughout: a kernel is a WGSL module launched on the burn tensor's own
//! compute client (`client.launch`). Our dispatches are therefore ordered with burn's work on
//! the same queue, read burn's buffers in place, and write into buffers burn allocated,
//! which come back as ordinary burn tensors. No read-back, no extra synchronisation.
//!
//! `wgpu.rs` does it; in a build without the `webgpu` feature, `absent.rs` offers the same
//! functions on a tensor type that cannot exist, so the callers' GPU branches are dead code
//! and every tensor takes the host path of [`Storage`].

use burn::tensor::Device;
#[cfg(test)]
use ring_wgpu_shaders::WgslKernel;

#[cfg(not(feature = "webgpu"))]
mod absent;
#[cfg(not(feature = "webgpu"))]
pub(crate) use absent::*;
#[cfg(feature = "webgpu")]
mod wgpu;
#[cfg(feature = "webgpu")]
pub(crate) use self::wgpu::*;

/// A tensor's values where our kernels (or their references) can read them.
#[allow(clippy::large_enum_variant)] // short-lived; boxing the GPU case buys nothing
pub(crate) enum Storage {
    /// On burn's wgpu backend: the contiguous f32 storage, for a WGSL kernel.
    #[cfg_attr(not(feature = "webgpu"), allow(dead_code))]
    Wgpu(CubeTensor),
    /// On a CPU backend: the values on the host (row-major), and the tensor's device for
    /// the results.
    Host(Vec<f32>, Device),
}

/// Asserts that the WGSL struct `name` of `kernel` (parsed by naga) and its Rust mirror agree:
/// field names in order (`fields`), 4-byte fields at consecutive offsets, and `size` bytes.
/// Every parameter block's layout test calls this.
#[cfg(test)]
pub(crate) fn assert_layout_matches(kernel: WgslKernel, name: &str, fields: &[&str], size: usize) {
    let module = naga::front::wgsl::parse_str(&kernel.source()).unwrap();
    let (handle, ty) =
        module.types.iter().find(|(_, t)| t.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("{name} in {}", kernel.file));
    let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{name} is not a struct") };
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    assert_eq!(*span as usize, size, "{name} size");
    assert_eq!(layouter[handle].size as usize, size, "{name} size");
    let names: Vec<&str> = members.iter().map(|m| m.name.as_deref().unwrap()).collect();
    assert_eq!(names, fields, "{name} fields");
    for (i, m) in members.iter().enumerate() {
        assert_eq!(m.offset as usize, 4 * i, "{name}.{}", names[i]);
    }
}
