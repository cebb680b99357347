//! Reading tensors back to the host: the one way, asynchronous (browsers cannot block on
//! a GPU read). Native code blocks on these at its edge (`pollster::block_on`).

use burn::tensor::{Int, Tensor};

use super::GpuError;

/// The values of a float tensor, row-major, as f32.
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, GpuError> {
    let data = tensor.into_data_async().await.map_err(|e| GpuError::ReadBack(format!("{e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| GpuError::ReadBack(format!("{e:?}")))
}

/// The values of an integer tensor, row-major, as i64.
pub async fn read_i64<const D: usize>(tensor: Tensor<D, Int>) -> Result<Vec<i64>, GpuError> {
    let data = tensor.into_data_async().await.map_err(|e| GpuError::ReadBack(format!("{e:?}")))?;
    data.convert::<i64>().try_into_vec::<i64>().map_err(|e| GpuError::ReadBack(format!("{e:?}")))
}

/// The single value of a one-element float tensor.
pub async fn read_scalar(tensor: Tensor<1>) -> Result<f64, GpuError> {
    let values = read_f32(tensor).await?;
    values.first().map(|&v| v as f64).ok_or_else(|| GpuError::ReadBack("expected one value, got none".into()))
}
