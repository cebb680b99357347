//! The dataset resident on the device, and the augment launch.

use std::sync::Arc;

use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use super::blur::blur_launch;
use super::host::augment_on_host;
use super::{AugmentSpec, ViewParams, blur_reference};
use crate::data::ImageDataset;
use crate::error::{Result, input_error};
use crate::gpu::launch::{self, CubeTensor};

/// Bytes per shard: below every binding-size limit we meet (128 MiB on lavapipe and in
/// browsers by default).
const SHARD_BYTES: usize = 64 << 20;

/// A dataset's pixels on the GPU, uploaded once, split into shards that each fit one
/// storage binding. On a CPU backend the pixels stay in host memory and
/// [`DeviceImages::augment`] computes the kernel's values on the host (the plain-Rust
/// reference's, bit for bit).
#[derive(Debug, Clone)]
pub struct DeviceImages {
    shards: Vec<CubeTensor>,
    host: Option<(Arc<ImageDataset>, Device)>,
    per_shard: usize,
    len: usize,
    height: usize,
    width: usize,
}

impl DeviceImages {
    /// Uploads `data`'s pixels to `device`.
    pub fn upload(data: &ImageDataset, device: &Device) -> Result<Self> {
        if data.is_empty() {
            input_error!("cannot upload an empty dataset");
        }
        let image_bytes = data.image_bytes();
        if crate::gpu::is_cpu(device) {
            let host = Some((Arc::new(data.clone()), device.clone()));
            return Ok(DeviceImages {
                shards: Vec::new(),
                host,
                per_shard: data.len(),
                len: data.len(),
                height: data.height,
                width: data.width,
            });
        }
        let per_shard = (SHARD_BYTES / image_bytes).max(1);
        let shards = data
            .pixels
            .chunks(per_shard * image_bytes)
            .map(|chunk| {
                let words: Vec<i32> = chunk
                    .chunks(4)
                    .map(|b| {
                        let mut w = [0u8; 4];
                        w[..b.len()].copy_from_slice(b);
                        i32::from_le_bytes(w)
                    })
                    .collect();
                let n = words.len();
                let tensor = Tensor::<1, Int>::from_data(TensorData::new(words, [n]), device);
                Ok(launch::int_storage(tensor)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DeviceImages { shards, host: None, per_shard, len: data.len(), height: data.height, width: data.width })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Height and width of the source images.
    pub fn image_size(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Augments `views` (from [`super::sample_views`]) into a `views.len()` x 3 x size x
    /// size f32 tensor, each view at its slot. One launch per shard that holds a view,
    /// then two blur launches when a view has a blur sigma.
    pub fn augment(&self, views: &[ViewParams], spec: &AugmentSpec) -> Result<Tensor<4>> {
        let n = views.len();
        if n == 0 {
            input_error!("no views to augment");
        }
        if views.iter().any(|v| v.image as usize >= self.len || v.slot as usize >= n) {
            input_error!("a view names an image beyond {} or a slot beyond {n}", self.len);
        }
        let mut sigmas = vec![0.0f32; n];
        for v in views {
            sigmas[v.slot as usize] = v.blur_sigma;
        }
        let blurred = sigmas.iter().any(|&s| s > 0.0);
        if let Some((data, device)) = &self.host {
            let mut pixels = augment_on_host(data, views, spec);
            if blurred {
                pixels = blur_reference(&pixels, &sigmas, spec.size);
            }
            return Ok(Tensor::<4>::from_data(TensorData::new(pixels, [n, 3, spec.size, spec.size]), device));
        }
        let first = &self.shards[0];
        let plane = spec.size * spec.size;
        let out = launch::empty(first, [n, 3 * plane], DType::F32);
        for (s, shard) in self.shards.iter().enumerate() {
            let lo = s * self.per_shard;
            let local: Vec<ViewParams> = views
                .iter()
                .filter(|v| (lo..lo + self.per_shard).contains(&(v.image as usize)))
                .map(|v| ViewParams { image: v.image - lo as u32, ..*v })
                .collect();
            if local.is_empty() {
                continue;
            }
            let images = self.per_shard.min(self.len - lo);
            let params = spec.launch_params(local.len(), self.height, self.width, images);
            let views_buffer = launch::upload_slice(shard, &local);
            launch::launch(
                shard,
                ring_wgpu_shaders::AUGMENT,
                local.len() as u32,
                vec![shard.handle.clone(), views_buffer, out.handle.clone(), launch::upload(shard, &params)],
            );
        }
        let out = if blurred { blur_launch(&out, &sigmas, spec.size) } else { out };
        Ok(launch::float_tensor_shaped(out, [n, 3, spec.size, spec.size]))
    }
}
