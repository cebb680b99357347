//! How much memory a run needs, estimated from its configuration and dataset size before
//! any work, so that a run a machine cannot hold is refused naming the setting to change
//! instead of ending in an allocation failure hours in (or at once, in an abort).
//!
//! The estimate counts the large buffers — images (as stored: bytes on the host and a byte
//! copy on the device),
//! the MoCo queue or the memory banks, the similarity matrices of a step, the encoder's
//! saved activations — and leaves out what is small next to them (weights, optimiser state
//! and the kNN monitor's features of a small model). It errs high: activations are counted
//! as if every view kept its graph.

use super::{MethodKind, TrainConfig};
use crate::model::EncoderKind;

/// One large buffer of a run: what it is, the setting that sizes it, and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPart {
    /// What the buffer holds.
    pub what: &'static str,
    /// The setting to lower to shrink it.
    pub key: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The large buffers of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Each buffer, largest first.
    pub parts: Vec<MemoryPart>,
}

impl MemoryEstimate {
    /// All parts together, bytes.
    pub fn total(&self) -> u64 {
        self.parts.iter().fold(0u64, |sum, p| sum.saturating_add(p.bytes))
    }

    /// The largest part.
    pub fn largest(&self) -> Option<&MemoryPart> {
        self.parts.first()
    }

    /// "X GiB (largest: what, Y GiB: lower `key`)": for messages.
    pub fn describe(&self) -> String {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        match self.largest() {
            Some(p) => format!("about {:.1} GiB (largest: {}, {:.1} GiB; lower {})", gib(self.total()), p.what, gib(p.bytes), p.key),
            None => "nothing".into(),
        }
    }
}

/// f32 values one image leaves for the backward pass in one view of the encoder, at 32 x 32
/// (about seven tensors per block at each stage's width and resolution, plus the stem's).
fn activations_per_image(model: EncoderKind, image_size: usize) -> u64 {
    let (widths, blocks): (&[u64], u64) = match model {
        EncoderKind::Small => (&[16, 32, 64], 1),
        EncoderKind::ResNet18 => (&[64, 128, 256, 512], 2),
    };
    let pixels = (image_size as u64).pow(2);
    let stem = 3 * widths[0] * pixels;
    let stages: u64 = widths.iter().enumerate().map(|(i, &w)| 7 * blocks * w * (pixels >> (2 * i as u64)).max(1)).sum();
    stem + stages
}

impl TrainConfig {
    /// The memory a run of this configuration needs with `train_images` and `test_images`
    /// images of `image_bytes` bytes each as stored (height x width x 3), split by buffer
    /// (see the module's notes). Saturating arithmetic: any configuration gives a number,
    /// however large.
    pub fn memory_estimate(&self, train_images: usize, test_images: usize, image_bytes: usize) -> MemoryEstimate {
        let mul = |a: u64, b: u64| a.saturating_mul(b);
        let (b, d) = (self.batch as u64, self.projection_dim as u64);
        let images = (train_images as u64).saturating_add(test_images as u64);
        let image_key = if self.dataset == super::DatasetKind::Synthetic { "synthetic_per_class" } else { "train_subset" };
        let mut parts = vec![MemoryPart {
            what: "the images (on the host and on the device)",
            key: image_key,
            bytes: mul(images, mul(image_bytes as u64, 2)),
        }];
        let (candidates, views) = match self.method {
            MethodKind::Moco | MethodKind::Mocoring => {
                let queue = self.queue.unwrap_or(4096) as u64;
                parts.push(MemoryPart { what: "the queue", key: "queue", bytes: mul(queue, mul(d, 4)) });
                (queue, 2)
            }
            MethodKind::Ir | MethodKind::Iring | MethodKind::Cmc | MethodKind::Cmcring => {
                let banks = if matches!(self.method, MethodKind::Cmc | MethodKind::Cmcring) { 2 } else { 1 };
                parts.push(MemoryPart {
                    what: "the memory bank",
                    key: "projection_dim",
                    bytes: mul(banks, mul(train_images as u64, mul(d, 4))),
                });
                // The drawn rows are gathered per anchor: B x k x D.
                parts.push(MemoryPart {
                    what: "the drawn bank rows",
                    key: "samples",
                    bytes: mul(banks, mul(b, mul(self.samples as u64, mul(d, 4)))),
                });
                (mul(banks, self.samples as u64), banks)
            }
            MethodKind::Simclr | MethodKind::SimclrRing => (mul(2, b), 2),
        };
        // Similarities, their softmax and gradient, the ring mask: about four B x N matrices.
        parts.push(MemoryPart { what: "a step's similarity matrices", key: "batch", bytes: mul(b, mul(candidates, 16)) });
        parts.push(MemoryPart {
            what: "the encoder's activations",
            key: "batch",
            bytes: mul(b, mul(views, mul(activations_per_image(self.model, self.image_size), 4))),
        });
        parts.sort_by_key(|p| std::cmp::Reverse(p.bytes));
        MemoryEstimate { parts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_preset_is_small_and_a_huge_queue_is_named() {
        let quick = TrainConfig::default().memory_estimate(1000, 500, 3072);
        assert!(quick.total() < 200 << 20, "{}", quick.describe());
        let huge = TrainConfig { queue: Some(1 << 24), projection_dim: 256, ..TrainConfig::default() }.memory_estimate(1000, 500, 3072);
        assert_eq!(huge.largest().unwrap().key, "queue");
        assert!(huge.describe().contains("16.0 GiB") && huge.describe().contains("lower queue"), "{}", huge.describe());
        // The paper's ResNet-18 at B = 256 on CIFAR-10 fits a 24 GiB machine.
        let paper = crate::train::preset("paper-cifar10-mocoring").unwrap().memory_estimate(50_000, 10_000, 3072);
        assert!(paper.total() < 12 << 30, "{}", paper.describe());
        // Nothing overflows.
        let absurd = TrainConfig { batch: usize::MAX, samples: usize::MAX, method: MethodKind::Cmc, ..TrainConfig::default() };
        assert_eq!(absurd.memory_estimate(usize::MAX, usize::MAX, 3072).total(), u64::MAX);
    }
}
