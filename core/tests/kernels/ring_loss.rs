//! The Ring NCE loss on the GPU (burn autodiff) against the f64 reference, whose own
//! gradient is checked against finite differences in the unit tests.

use crate::common::*;
use ring_wgpu_core::burn::tensor::{Int, Tensor, TensorData};
use ring_wgpu_core::ring::{
    Negatives, NegativesRef, Pairing, compact_reference, mask_reference, ring_nce_loss, ring_nce_loss_reference, ring_select,
    sample_reference, select_reference, similarities,
};
use ring_wgpu_core::{Gpu, RingSpec};

struct Problem {
    b: usize,
    n: usize,
    d: usize,
    q: Vec<f32>,
    k: Vec<f32>,
    queue: Vec<f32>,
}

fn problem(b: usize, n: usize, d: usize, seed: u64) -> Problem {
    let mut rng = Rng(seed);
    Problem { b, n, d, q: unit_rows(&mut rng, b, d), k: unit_rows(&mut rng, b, d), queue: unit_rows(&mut rng, n, d) }
}

/// Loss and d loss / d q through burn autodiff on the GPU.
fn gpu_loss(gpu: &Gpu, p: &Problem, negatives: Host<'_>, tau: f64) -> (f32, Vec<f32>) {
    let device = gpu.burn_device().clone().autodiff();
    let q = Tensor::<2>::from_data(TensorData::new(p.q.clone(), [p.b, p.d]), &device).require_grad();
    let k = Tensor::<2>::from_data(TensorData::new(p.k.clone(), [p.b, p.d]), &device);
    let queue = Tensor::<2>::from_data(TensorData::new(p.queue.clone(), [p.n, p.d]), &device);
    let negatives = negatives.on(gpu.burn_device(), p.b, p.n);
    let loss = ring_nce_loss(q.clone(), k, queue, negatives, tau).unwrap();
    let grads = loss.backward();
    let grad = q.grad(&grads).expect("q requires grad");
    let loss = read_f32(loss)[0];
    (loss, read_f32(grad))
}

fn assert_close(what: &str, got: &[f32], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tolerance * (1.0 + w.abs()), "{what}[{i}]: gpu {g}, reference {w}");
    }
}

#[test]
fn loss_and_gradient_match_reference_with_a_ring_mask() {
    let Some(gpu) = gpu() else { return };
    for (b, n, d, seed) in [(5, 300, 16, 1u64), (1, 37, 3, 2), (8, 1000, 33, 3)] {
        let p = problem(b, n, d, seed);
        // Ring from the anchors' own similarities to the queue.
        let sims: Vec<f32> = (0..b * n).map(|i| (0..d).map(|t| p.q[(i / n) * d + t] * p.queue[(i % n) * d + t]).sum()).collect();
        let rings = select_reference(&sims, b, n, &RingSpec::paper(), Pairing::None).unwrap();
        let mask = mask_reference(&sims, b, n, &rings, Pairing::None);
        let tau = 0.07;
        let (loss, grad) = gpu_loss(gpu, &p, Host::Mask(&mask), tau);
        let reference = ring_nce_loss_reference(&p.q, &p.k, &p.queue, NegativesRef::Mask(&mask), b, n, d, tau);
        assert_close("loss", &[loss], &[reference.loss], 1e-4);
        assert_close("grad", &grad, &reference.grad_q, 1e-4);
    }
}

#[test]
fn full_ring_is_plain_nce_exactly() {
    let Some(gpu) = gpu() else { return };
    let p = problem(6, 500, 24, 5);
    let device = gpu.burn_device();
    let q = Tensor::<2>::from_data(TensorData::new(p.q.clone(), [p.b, p.d]), device);
    let queue = Tensor::<2>::from_data(TensorData::new(p.queue.clone(), [p.n, p.d]), device);
    let bounds = ring_select(similarities(q, queue), &RingSpec::plain_nce(), Pairing::None).unwrap();
    let mask = read_f32(bounds.mask());
    assert!(mask.iter().all(|&m| m == 1.0));
    let (with_mask, grad_with) = gpu_loss(gpu, &p, Host::Mask(&mask), 0.07);
    let (without, grad_without) = gpu_loss(gpu, &p, Host::All, 0.07);
    assert_eq!(with_mask.to_bits(), without.to_bits());
    assert_eq!(grad_with, grad_without);
    let reference = ring_nce_loss_reference(&p.q, &p.k, &p.queue, NegativesRef::All, p.b, p.n, p.d, 0.07);
    assert_close("plain NCE loss", &[without], &[reference.loss], 1e-4);
}

#[test]
fn gpu_pipeline_similarities_select_mask_loss() {
    let Some(gpu) = gpu() else { return };
    let p = problem(4, 4096, 32, 8);
    let device = gpu.burn_device();
    let q = Tensor::<2>::from_data(TensorData::new(p.q.clone(), [p.b, p.d]), device);
    let queue = Tensor::<2>::from_data(TensorData::new(p.queue.clone(), [p.n, p.d]), device);
    let sims_gpu = similarities(q, queue);
    let sims = read_f32(sims_gpu.clone());
    let bounds = ring_select(sims_gpu, &RingSpec::paper(), Pairing::None).unwrap();
    let mask = read_f32(bounds.mask());
    // The mask matches the reference on the GPU's own similarities (bit-exact input).
    let rings = select_reference(&sims, p.b, p.n, &RingSpec::paper(), Pairing::None).unwrap();
    assert_eq!(mask, mask_reference(&sims, p.b, p.n, &rings, Pairing::None));
    assert!(mask.iter().filter(|&&m| m == 1.0).count() == p.b * (409 - 40));
    let (loss, grad) = gpu_loss(gpu, &p, Host::Mask(&mask), 0.07);
    let reference = ring_nce_loss_reference(&p.q, &p.k, &p.queue, NegativesRef::Mask(&mask), p.b, p.n, p.d, 0.07);
    assert_close("loss", &[loss], &[reference.loss], 1e-4);
    assert_close("grad", &grad, &reference.grad_q, 1e-4);
}

#[test]
fn loss_rejects_bad_shapes_and_temperatures() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let q = Tensor::<2>::zeros([2, 3], device);
    let k = Tensor::<2>::zeros([2, 4], device);
    let queue = Tensor::<2>::zeros([5, 3], device);
    let err = ring_nce_loss(q.clone(), k, queue.clone(), Negatives::All, 0.07).unwrap_err().to_string();
    assert!(err.contains("positives is [2, 4], expected [2, 3]"), "{err}");
    let err = ring_nce_loss(q.clone(), q.clone(), queue.clone(), Negatives::All, 0.0).unwrap_err().to_string();
    assert!(err.contains("temperature"), "{err}");
    let mask = Tensor::<2>::ones([2, 4], device);
    assert!(ring_nce_loss(q.clone(), q.clone(), queue.clone(), Negatives::Mask(mask), 0.07).is_err());
    let indices = Tensor::<2, Int>::zeros([3, 4], device);
    assert!(ring_nce_loss(q.clone(), q, queue, Negatives::Sampled(indices), 0.07).is_err());
}

#[test]
fn iring_sampled_negatives_match_reference() {
    let Some(gpu) = gpu() else { return };
    let p = problem(3, 2000, 16, 13);
    let device = gpu.burn_device();
    let q = Tensor::<2>::from_data(TensorData::new(p.q.clone(), [p.b, p.d]), device);
    let bank = Tensor::<2>::from_data(TensorData::new(p.queue.clone(), [p.n, p.d]), device);
    let sims_gpu = similarities(q, bank);
    let sims = read_f32(sims_gpu.clone());
    let bounds = ring_select(sims_gpu, &RingSpec::paper(), Pairing::None).unwrap();
    let k = 64;
    let drawn = read_u32(bounds.sample(k, 2024).unwrap());
    let rings = select_reference(&sims, p.b, p.n, &RingSpec::paper(), Pairing::None).unwrap();
    let members = compact_reference(&sims, p.b, p.n, &rings, Pairing::None);
    assert_eq!(drawn, sample_reference(&members, p.b, rings[0].len as usize, k, 2024));
    let (loss, grad) = gpu_loss(gpu, &p, Host::Sampled(&drawn, k), 0.07);
    let reference = ring_nce_loss_reference(&p.q, &p.k, &p.queue, NegativesRef::Sampled(&drawn, k), p.b, p.n, p.d, 0.07);
    assert_close("loss", &[loss], &[reference.loss], 1e-4);
    assert_close("grad", &grad, &reference.grad_q, 1e-4);
}

/// In-batch candidates (SimCLR, 2B views): the negatives never include an anchor itself or
/// its positive, for plain NCE and for the ring; plain NCE over the 2B - 2 others is
/// NT-Xent, checked against a direct f64 computation. On every device.
#[test]
fn in_batch_negatives_exclude_self_and_positive() {
    use ring_wgpu_core::negatives::NegativeSampler;
    use ring_wgpu_core::{AnnealPolicy, RingSchedule};
    let (b, d, tau) = (4, 5, 0.2);
    let rows = 2 * b;
    let mut rng = Rng(23);
    let z = unit_rows(&mut rng, rows, d);
    let partner = |i: usize| if i < b { i + b } else { i - b };
    let positives: Vec<f32> = (0..rows).flat_map(|i| z[partner(i) * d..(partner(i) + 1) * d].to_vec()).collect();
    let dot = |i: usize, j: usize| (0..d).map(|t| z[i * d + t] as f64 * z[j * d + t] as f64).sum::<f64>() / tau;
    let nt_xent: f64 = (0..rows)
        .map(|i| {
            let denominator: f64 = (0..rows).filter(|&j| j != i).map(|j| dot(i, j).exp()).sum();
            denominator.ln() - dot(i, partner(i))
        })
        .sum::<f64>()
        / rows as f64;
    let ring = |upper: f64, lower: f64| {
        NegativeSampler::Ring(RingSchedule::new(RingSpec::new(lower, upper).unwrap(), AnnealPolicy::None).unwrap())
    };
    for (name, device) in devices() {
        let anchors = upload_on(&device, &z, rows, d);
        for (sampler, plain) in [(NegativeSampler::All, true), (ring(100.0, 0.0), true), (ring(50.0, 10.0), false)] {
            let chosen = sampler.choose(anchors.clone(), anchors.clone(), Pairing::SimClr, 0.0).unwrap();
            let Negatives::Mask(mask) = chosen.negatives.clone() else { panic!("{name}: in-batch negatives are a mask") };
            let mask = read_f32(mask);
            for i in 0..rows {
                assert_eq!(mask[i * rows + i], 0.0, "{name} {sampler:?}: row {i} counts itself");
                assert_eq!(mask[i * rows + partner(i)], 0.0, "{name} {sampler:?}: row {i} counts its positive");
                let count = mask[i * rows..(i + 1) * rows].iter().filter(|&&m| m > 0.0).count();
                // The ring of l = 10%, u = 50% of 2B - 2 = 6 candidates: positions [0, 3).
                assert_eq!(count, if plain { rows - 2 } else { 3 }, "{name} {sampler:?}: row {i}");
            }
            if plain {
                let loss = ring_nce_loss(anchors.clone(), upload_on(&device, &positives, rows, d), anchors.clone(), chosen.negatives, tau)
                    .unwrap();
                let loss = read_f32(loss)[0] as f64;
                assert!((loss - nt_xent).abs() < 1e-5 * nt_xent.abs().max(1.0), "{name} {sampler:?}: {loss} vs NT-Xent {nt_xent}");
            }
        }
    }
}
