//! The debiased (DCL) and hard-negative (HCL) objectives through burn autodiff, on the CPU
//! backend and the test GPU, against the f64 reference: the loss, and the gradient against
//! central finite differences of the reference; with every candidate, a ring mask with
//! multiplicities and empty rows, and sampled indices. DCL with tau+ = 0 is NCE; a short
//! MoCoRing run with HCL trains.

use crate::common::*;
use ring_wgpu_core::burn::tensor::Device;
use ring_wgpu_core::objective::{Objective, contrastive_loss, contrastive_loss_reference};
use ring_wgpu_core::ring::{Negatives, ring_nce_loss};
use ring_wgpu_core::train::{MethodKind, ObjectiveKind, TrainConfig};

struct Problem {
    b: usize,
    n: usize,
    d: usize,
    q: Vec<f32>,
    k: Vec<f32>,
    c: Vec<f32>,
}

fn problem(b: usize, n: usize, d: usize, seed: u64) -> Problem {
    let mut rng = Rng(seed);
    Problem { b, n, d, q: unit_rows(&mut rng, b, d), k: unit_rows(&mut rng, b, d), c: unit_rows(&mut rng, n, d) }
}

/// Loss and d loss / d q through burn autodiff on `device`.
fn burn_loss(device: &Device, p: &Problem, negatives: Host<'_>, tau: f64, objective: Objective) -> (f64, Vec<f32>) {
    let ad = device.clone().autodiff();
    let q = upload_on(&ad, &p.q, p.b, p.d).require_grad();
    let k = upload_on(&ad, &p.k, p.b, p.d);
    let c = upload_on(&ad, &p.c, p.n, p.d);
    let loss = contrastive_loss(q.clone(), k, c, negatives.on(device, p.b, p.n), tau, objective).unwrap();
    let grads = loss.backward();
    let grad = q.grad(&grads).expect("q requires grad");
    (read_f32(loss)[0] as f64, read_f32(grad))
}

fn reference(p: &Problem, q: &[f32], negatives: Host<'_>, tau: f64, objective: Objective) -> f64 {
    contrastive_loss_reference(q, &p.k, &p.c, negatives.reference(), p.b, p.n, p.d, tau, objective)
}

/// Central finite differences of the f64 reference with respect to q.
fn numeric_gradient(p: &Problem, negatives: Host<'_>, tau: f64, objective: Objective) -> Vec<f64> {
    let h = 1e-3f32;
    (0..p.b * p.d)
        .map(|i| {
            let (mut plus, mut minus) = (p.q.clone(), p.q.clone());
            plus[i] += h;
            minus[i] -= h;
            (reference(p, &plus, negatives, tau, objective) - reference(p, &minus, negatives, tau, objective)) / (2.0 * h as f64)
        })
        .collect()
}

const OBJECTIVES: [Objective; 3] = [
    Objective::Debiased { tau_plus: 0.1 },
    Objective::HardNegatives { tau_plus: 0.1, beta: 1.0 },
    Objective::HardNegatives { tau_plus: 0.05, beta: 0.5 },
];

fn check(device_name: &str, device: &Device, p: &Problem, negatives: Host<'_>, what: &str, tau: f64) {
    for objective in OBJECTIVES {
        let (loss, grad) = burn_loss(device, p, negatives, tau, objective);
        let want = reference(p, &p.q, negatives, tau, objective);
        assert!((loss - want).abs() <= 1e-4 * (1.0 + want.abs()), "{device_name} {what} {objective:?}: loss {loss}, reference {want}");
        let numeric = numeric_gradient(p, negatives, tau, objective);
        let scale = numeric.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-3);
        for (i, (&g, &w)) in grad.iter().zip(&numeric).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 2e-3 * scale,
                "{device_name} {what} {objective:?}: d/dq[{i}] autodiff {g}, finite differences {w}"
            );
        }
    }
}

#[test]
fn loss_and_gradient_match_the_reference_on_every_device() {
    for (name, device) in devices() {
        // Odd sizes; tau 0.5 keeps the f32 finite differences well conditioned.
        let p = problem(5, 37, 7, 11);
        check(name, &device, &p, Host::All, "all", 0.5);
        // Mask: multiplicities 0, 1, 2, and one empty row (its loss is log(1) = 0 + floor).
        let mut mask: Vec<f32> = (0..p.b * p.n).map(|i| ((i * 7) % 3) as f32).collect();
        mask[2 * p.n..3 * p.n].iter_mut().for_each(|m| *m = 0.0);
        check(name, &device, &p, Host::Mask(&mask), "mask", 0.5);
        // Sampled indices with repeats.
        let k = 9;
        let idx: Vec<u32> = (0..p.b * k).map(|i| ((i * 13) % p.n) as u32).collect();
        check(name, &device, &p, Host::Sampled(&idx, k), "sampled", 0.5);
        // The MoCo temperature: the loss still matches (the floor and the stabilisation).
        let (loss, _) = burn_loss(&device, &p, Host::All, 0.07, OBJECTIVES[1]);
        let want = reference(&p, &p.q, Host::All, 0.07, OBJECTIVES[1]);
        assert!((loss - want).abs() <= 1e-4 * (1.0 + want.abs()), "{name} tau 0.07: {loss} vs {want}");
    }
}

#[test]
fn debiased_with_no_class_prior_is_nce() {
    for (name, device) in devices() {
        let p = problem(6, 50, 8, 3);
        let ad = device.clone().autodiff();
        let up = |v: &[f32], r| upload_on(&ad, v, r, p.d);
        let nce = read_f32(ring_nce_loss(up(&p.q, p.b), up(&p.k, p.b), up(&p.c, p.n), Negatives::All, 0.2).unwrap())[0];
        let dcl = read_f32(
            contrastive_loss(up(&p.q, p.b), up(&p.k, p.b), up(&p.c, p.n), Negatives::All, 0.2, Objective::Debiased { tau_plus: 0.0 })
                .unwrap(),
        )[0];
        assert!((nce - dcl).abs() < 1e-5, "{name}: nce {nce}, dcl(tau+ = 0) {dcl}");
    }
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let base = TrainConfig::default();
    let err = |c: TrainConfig| c.validate().unwrap_err().to_string();
    assert!(err(TrainConfig { tau_plus: 1.0, ..base.clone() }).contains("tau_plus"));
    assert!(err(TrainConfig { hcl_beta: -0.5, ..base.clone() }).contains("hcl_beta"));
    TrainConfig { objective: ObjectiveKind::Hcl, ..base }.validate().unwrap();
}

/// MoCoRing with the HCL objective trains on the CPU: finite losses that fall.
#[test]
fn mocoring_with_hcl_trains() {
    let config = TrainConfig {
        method: MethodKind::Mocoring,
        objective: ObjectiveKind::Hcl,
        synthetic_per_class: 20,
        batch: 20,
        queue: Some(100),
        epochs: 4,
        knn_every: 4,
        knn_k: 10,
        ..TrainConfig::default()
    };
    let losses = step_losses(&config, 4, 10, &Device::flex());
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[3] < losses[0], "HCL loss did not fall: {losses:?}");
}
