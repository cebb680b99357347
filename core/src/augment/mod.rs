//! Two-view augmentation on the GPU (kernel `shaders/wgsl/augment.wgsl`).
//!
//! The host draws each view's random choices ([`sample_views`]: crop box, flip, jitter
//! factors and order, grayscale), a few dozen bytes per view; the pixels never leave the
//! GPU: the dataset is uploaded once ([`DeviceImages`]) and every step's views are
//! cropped, resampled, jittered and normalised there into an f32 NCHW batch.
//! [`augment_reference`] is the plain-Rust version the kernel is tested against.

mod device;
mod params;
mod reference;

pub use device::DeviceImages;
pub use params::{sample_views, AugmentParams, AugmentSpec, ViewParams};
pub use reference::augment_reference;
