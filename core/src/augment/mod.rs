//! Two-view augmentation on the GPU (kernels `shaders/wgsl/augment.wgsl`, `blur.wgsl`;
//! CMC's RGB -> Lab split `lab.wgsl`).
//!
//! The host draws each view's random choices ([`sample_views`]: crop box, flip, jitter
//! factors and order, grayscale, blur), a few dozen bytes per view; the pixels never leave
//! the GPU: the dataset is uploaded once ([`DeviceImages`]) and every step's views are
//! cropped, resampled, jittered, normalised (and optionally blurred) there into an f32
//! NCHW batch. [`augment_reference`] and [`blur_reference`] are the plain-Rust versions the
//! kernels are tested against. On burn's CPU backend the pixels stay in host memory and
//! `host.rs` computes the reference's values, bit for bit, in a layout the CPU vectorises.

mod blur;
mod device;
mod host;
mod lab;
mod params;
mod reference;

pub use blur::{BlurParams, blur_on_device, blur_reference};
pub use device::DeviceImages;
pub use lab::{LAB_MEAN, LAB_STD, LabParams, lab_reference, rgb_to_lab_on_device, srgb_to_lab};
pub use params::{AugmentParams, AugmentSpec, ViewParams, sample_views};
pub use reference::augment_reference;
