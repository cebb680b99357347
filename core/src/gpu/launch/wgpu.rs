//! The WGSL kernel launches on burn's wgpu backend.

use burn::backend::Wgpu;
pub(crate) use burn::backend::wgpu::CubeTensor;
use burn::backend::wgpu::{KernelSource, SourceKernel, SourceTemplate, into_contiguous};
use burn::cubecl::prelude::KernelId;
pub(crate) use burn::cubecl::server::Handle;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Int, Shape, Tensor};
use ring_wgpu_shaders::WgslKernel;

use super::Storage;
use crate::gpu::GpuError;

/// Dispatches larger than this spill into the y dimension (WebGPU's guaranteed minimum).
pub(crate) const MAX_GROUPS_PER_DIMENSION: u32 = 65_535;

/// Workgroup grid for `groups` workgroups: x first, spilling into y.
pub(crate) fn grid(groups: u32) -> (u32, u32) {
    let groups = groups.max(1);
    let x = groups.min(MAX_GROUPS_PER_DIMENSION);
    (x, groups.div_ceil(x))
}

/// A ring kernel as burn/cubecl sees it.
struct RingKernel {
    kernel: WgslKernel,
}

impl KernelSource for RingKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(self.kernel.source())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info(self.kernel.file)
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Launches `kernel` over `groups` workgroups with `buffers` bound in order (binding 0, 1, ...).
pub(crate) fn launch(like: &CubeTensor, kernel: WgslKernel, groups: u32, buffers: Vec<Handle>) {
    let (x, y) = grid(groups);
    let cube_dim = CubeDim::new_1d(kernel.workgroup_size);
    let mut arguments = KernelArguments::new();
    for buffer in buffers {
        arguments = arguments.with_buffer(buffer.binding());
    }
    like.client.launch(Box::new(SourceKernel::new(RingKernel { kernel }, cube_dim)), CubeCount::Static(x, y, 1), arguments);
}

/// The f32 storage of a 2-D float tensor, outside autodiff: on the wgpu backend its
/// contiguous storage, on a CPU backend its values (a copy, no GPU involved).
pub(crate) fn float_storage(tensor: Tensor<2>) -> Result<Storage, GpuError> {
    let tensor = tensor.without_autodiff();
    let device = tensor.device();
    let cube = match tensor.clone().try_into_primitive::<Wgpu>() {
        Ok(cube) => cube,
        // Host memory: a synchronous read blocks on nothing (also in a browser).
        Err(_) if crate::gpu::is_cpu(&device) => {
            let values = tensor.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| GpuError::ReadBack(format!("{e:?}")))?;
            return Ok(Storage::Host(values, device));
        }
        Err(e) => return Err(GpuError::NotOnWgpu(format!("{e:?}"))),
    };
    if cube.dtype != DType::F32 {
        return Err(GpuError::NotOnWgpu(format!("ring kernels read f32 similarities, got {:?}", cube.dtype)));
    }
    Ok(Storage::Wgpu(into_contiguous(cube)))
}

/// Uploads a small plain-old-data block (kernel parameters).
pub(crate) fn upload<T: bytemuck::Pod>(like: &CubeTensor, value: &T) -> Handle {
    like.client.create_from_slice(bytemuck::bytes_of(value))
}

/// Uploads a slice of plain-old-data values (per-view parameters, sigmas).
pub(crate) fn upload_slice<T: bytemuck::Pod>(like: &CubeTensor, values: &[T]) -> Handle {
    like.client.create_from_slice(bytemuck::cast_slice(values))
}

/// The storage of an integer tensor on the wgpu backend (the dataset's packed pixels).
pub(crate) fn int_storage(tensor: Tensor<1, Int>) -> Result<CubeTensor, GpuError> {
    tensor.try_into_primitive::<Wgpu>().map_err(|e| GpuError::NotOnWgpu(format!("{e:?}")))
}

/// A new, uninitialised tensor on `like`'s device.
pub(crate) fn empty(like: &CubeTensor, shape: [usize; 2], dtype: DType) -> CubeTensor {
    let bytes = shape[0] * shape[1] * dtype.size();
    let handle = like.client.empty(bytes.max(4));
    CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), Shape::from(shape), handle, dtype)
}

/// `cube` as contiguous f32 storage (a copy where it was strided), or `None` for another dtype.
pub(crate) fn contiguous_f32(cube: CubeTensor) -> Option<CubeTensor> {
    (cube.dtype == DType::F32).then(|| into_contiguous(cube))
}

/// `cube`'s contiguous storage seen with another shape of as many elements.
pub(crate) fn reshaped(cube: CubeTensor, shape: Shape) -> CubeTensor {
    CubeTensor::new_contiguous(cube.client.clone(), cube.device.clone(), shape, cube.handle, cube.dtype)
}

/// Wraps a float primitive back into a burn tensor.
pub(crate) fn float_tensor(cube: CubeTensor) -> Tensor<2> {
    Tensor::<2>::from_primitive::<Wgpu>(cube)
}

/// Wraps `cube`'s contiguous storage (as a kernel wrote it) into a float tensor of `shape`,
/// which holds as many elements as the storage.
pub(crate) fn float_tensor_shaped<const D: usize>(cube: CubeTensor, shape: [usize; D]) -> Tensor<D> {
    let out = CubeTensor::new_contiguous(cube.client.clone(), cube.device.clone(), Shape::from(shape), cube.handle, cube.dtype);
    Tensor::<D>::from_primitive::<Wgpu>(out)
}

/// Wraps an integer primitive back into a burn tensor.
pub(crate) fn int_tensor(cube: CubeTensor) -> Tensor<2, Int> {
    Tensor::<2, Int>::from_primitive::<Wgpu>(cube)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_spills_into_y() {
        assert_eq!(grid(0), (1, 1));
        assert_eq!(grid(7), (7, 1));
        assert_eq!(grid(65_535), (65_535, 1));
        assert_eq!(grid(65_536), (65_535, 2));
        assert_eq!(grid(200_000), (65_535, 4));
    }
}
