//! The launch functions in a build without the `webgpu` feature: [`CubeTensor`] has no
//! values, so none of these can be called, and [`float_storage`] always answers with the
//! host values.

use burn::tensor::{DType, Int, Tensor};
use ring_wgpu_shaders::WgslKernel;

use super::Storage;
use crate::gpu::GpuError;

/// Stands in for a tensor's storage on the wgpu backend; a value of it cannot exist.
#[derive(Clone, Debug)]
pub(crate) struct CubeTensor {
    /// The buffer (as on the wgpu backend).
    pub handle: Handle,
}

/// Stands in for a GPU buffer; a value of it cannot exist.
#[derive(Clone, Debug)]
pub(crate) struct Handle(std::convert::Infallible);

impl CubeTensor {
    fn never(&self) -> ! {
        match self.handle.0 {}
    }
}

/// Unreachable: no tensor lives on a GPU in this build.
pub(crate) fn launch(like: &CubeTensor, _kernel: WgslKernel, _groups: u32, _buffers: Vec<Handle>) {
    like.never()
}

/// A 2-D float tensor's values on the host (every tensor is on the CPU backend here).
pub(crate) fn float_storage(tensor: Tensor<2>) -> Result<Storage, GpuError> {
    let tensor = tensor.without_autodiff();
    let device = tensor.device();
    let values = tensor.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| GpuError::ReadBack(format!("{e:?}")))?;
    Ok(Storage::Host(values, device))
}

/// Unreachable: no tensor lives on a GPU in this build.
pub(crate) fn upload<T: bytemuck::Pod>(like: &CubeTensor, _value: &T) -> Handle {
    like.never()
}

/// Unreachable: no tensor lives on a GPU in this build.
pub(crate) fn upload_slice<T: bytemuck::Pod>(like: &CubeTensor, _values: &[T]) -> Handle {
    like.never()
}

/// Fails: no tensor lives on a GPU in this build.
pub(crate) fn int_storage(_tensor: Tensor<1, Int>) -> Result<CubeTensor, GpuError> {
    Err(GpuError::NotBuilt)
}

/// Unreachable: no tensor lives on a GPU in this build.
pub(crate) fn empty(like: &CubeTensor, _shape: [usize; 2], _dtype: DType) -> CubeTensor {
    like.never()
}

/// Unreachable: no tensor lives on a GPU in this build.
pub(crate) fn float_tensor(cube: CubeTensor) -> Tensor<2> {
    cube.never()
}

/// Unreachable: no tensor lives on a GPU in this build.
pub(crate) fn float_tensor_shaped<const D: usize>(cube: CubeTensor, _shape: [usize; D]) -> Tensor<D> {
    cube.never()
}

/// Unreachable: no tensor lives on a GPU in this build.
pub(crate) fn int_tensor(cube: CubeTensor) -> Tensor<2, Int> {
    cube.never()
}
