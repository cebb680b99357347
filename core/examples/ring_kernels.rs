//! The Ring kernels alone: similarities of B anchors to N candidates, each anchor's ring
//! (ranks between the top l% and the top u%), and the NCE loss over the ring — MoCoRing's
//! negatives as a mask, IRing's as indices drawn from the ring. Random unit vectors on
//! burn's CPU backend (any burn device works: `Compute::burn_device()` for a GPU).
//!
//!     cargo run --release -p ring-wgpu-core --example ring_kernels

use ring_wgpu_core::burn::tensor::{Device, Distribution, Tensor};
use ring_wgpu_core::model::l2_normalise;
use ring_wgpu_core::ring::{Negatives, Pairing, RingSpec, ring_nce_loss, ring_select, similarities};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::flex();
    let (b, n, d) = (8, 4096, 128);
    let unit = |rows: usize| l2_normalise(Tensor::<2>::random([rows, d], Distribution::Normal(0.0, 1.0), &device));
    let (q, k, queue) = (unit(b), unit(b), unit(n));

    let sims = similarities(q.clone().detach(), queue.clone()); // B x N
    let ring = ring_select(sims, &RingSpec::paper(), Pairing::None)?; // l = 1%, u = 10%
    let moco_ring = ring_nce_loss(q.clone(), k.clone(), queue.clone(), Negatives::Mask(ring.mask()), 0.07)?;
    let iring = ring_nce_loss(q.clone(), k.clone(), queue.clone(), Negatives::Sampled(ring.sample(64, 7)?), 0.07)?;
    let plain = ring_nce_loss(q, k, queue, Negatives::All, 0.07)?;
    let value = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().map(|v| v[0]);
    println!("ring of each anchor: {} of {n} candidates", ring.window().len());
    println!("NCE over every candidate: {:?}", value(plain)?);
    println!("MoCoRing (mask): {:?}", value(moco_ring)?);
    println!("IRing (64 draws from the ring): {:?}", value(iring)?);
    Ok(())
}
