//! Hard-negative mixing (MoCHi) on the CPU backend and the test GPU: the mixes against
//! their plain-Rust reference, the hardest-set selection, the loss with per-anchor extra
//! negatives against the f64 reference (and its gradient against finite differences), and
//! MoCo with MoCHi training.

use crate::common::*;
use ring_wgpu_core::burn::tensor::{Device, Int, Tensor, TensorData};
use ring_wgpu_core::mixing::{HardNegativeMixing, mix, mix_reference};
use ring_wgpu_core::objective::{Objective, contrastive_loss_with_extra, contrastive_loss_with_extra_reference};
use ring_wgpu_core::ring::{Negatives, NegativesRef};
use ring_wgpu_core::train::{MethodKind, TrainConfig};

fn ints(device: &Device, values: &[u32], rows: usize, cols: usize) -> Tensor<2, Int> {
    Tensor::<2, Int>::from_data(TensorData::new(values.iter().map(|&v| v as i32).collect::<Vec<_>>(), [rows, cols]), device)
}

#[test]
fn mixes_match_the_reference() {
    let (b, k, d) = (3, 17, 5);
    for (s, s2) in [(4, 3), (2, 0), (0, 5)] {
        let mut rng = Rng(5 + s as u64);
        let (q, queue) = (unit_rows(&mut rng, b, d), unit_rows(&mut rng, k, d));
        let picks: Vec<u32> = (0..b * (2 * s + s2)).map(|_| rng.below(k as u64) as u32).collect();
        let alpha: Vec<f32> = (0..b * s).map(|_| rng.unit().abs()).collect();
        let beta: Vec<f32> = (0..b * s2).map(|_| rng.unit().abs() * 0.5).collect();
        let want = mix_reference(&q, &queue, &picks, &alpha, &beta, b, d, s, s2);
        for (name, device) in devices() {
            let got = mix(
                upload_on(&device, &q, b, d),
                upload_on(&device, &queue, k, d),
                ints(&device, &picks, b, 2 * s + s2),
                upload_on(&device, &alpha, b, s),
                upload_on(&device, &beta, b, s2),
            );
            assert_eq!(got.dims(), [b, s + s2, d]);
            let got = read_f32(got);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() < 1e-5, "{name} s={s} s'={s2} [{i}]: {g} vs {w}");
            }
        }
    }
}

/// With N = 1 every draw is the anchor's most similar queue entry: the two-negative mixes
/// are that entry itself, and the query mixes lie between the anchor and it.
#[test]
fn mixes_draw_from_the_hardest_entries() {
    let (b, k, d) = (4, 33, 6);
    let mut rng = Rng(9);
    let (q, queue) = (unit_rows(&mut rng, b, d), unit_rows(&mut rng, k, d));
    let hardest: Vec<usize> = (0..b)
        .map(|i| {
            let sim = |j: usize| (0..d).map(|t| q[i * d + t] * queue[j * d + t]).sum::<f32>();
            (0..k).max_by(|&x, &y| sim(x).total_cmp(&sim(y))).unwrap()
        })
        .collect();
    let mixing = HardNegativeMixing { hardest: 1, mixes: 5, query_mixes: 3 };
    for (name, device) in devices() {
        let out = mixing.synthesize(upload_on(&device, &q, b, d), upload_on(&device, &queue, k, d), 42).unwrap();
        assert_eq!(out.dims(), [b, 8, d]);
        let out = read_f32(out);
        for i in 0..b {
            let n = &queue[hardest[i] * d..(hardest[i] + 1) * d];
            for m in 0..8 {
                let h = &out[(i * 8 + m) * d..(i * 8 + m + 1) * d];
                let norm = h.iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!((norm - 1.0).abs() < 1e-4, "{name}: unit rows");
                let with_n = h.iter().zip(n).map(|(x, y)| x * y).sum::<f32>();
                if m < 5 {
                    assert!(with_n > 1.0 - 1e-4, "{name} anchor {i} mix {m}: not the hardest entry ({with_n})");
                } else {
                    // b < 0.5: the mix leans to the negative.
                    let with_q = h.iter().zip(&q[i * d..(i + 1) * d]).map(|(x, y)| x * y).sum::<f32>();
                    assert!(with_n >= with_q - 1e-4, "{name} anchor {i} query mix {m}: {with_n} vs {with_q}");
                }
            }
        }
        // Reproducible from the seed.
        let again = mixing.synthesize(upload_on(&device, &q, b, d), upload_on(&device, &queue, k, d), 42).unwrap();
        assert_eq!(read_f32(again), out);
    }
}

#[test]
fn loss_with_extra_negatives_matches_the_reference() {
    let (b, n, d, m) = (4, 23, 6, 5);
    let mut rng = Rng(21);
    let (q, pos, cand, extra) =
        (unit_rows(&mut rng, b, d), unit_rows(&mut rng, b, d), unit_rows(&mut rng, n, d), unit_rows(&mut rng, b * m, d));
    let mask: Vec<f32> = (0..b * n).map(|i| (i % 2) as f32).collect();
    let tau = 0.5;
    for objective in [Objective::Nce, Objective::HardNegatives { tau_plus: 0.1, beta: 1.0 }] {
        let reference = |q: &[f32]| {
            contrastive_loss_with_extra_reference(q, &pos, &cand, NegativesRef::Mask(&mask), Some((&extra, m)), b, n, d, tau, objective)
        };
        let want = reference(&q);
        let h = 1e-3f32;
        let numeric: Vec<f64> = (0..b * d)
            .map(|i| {
                let (mut plus, mut minus) = (q.clone(), q.clone());
                plus[i] += h;
                minus[i] -= h;
                (reference(&plus) - reference(&minus)) / (2.0 * h as f64)
            })
            .collect();
        for (name, device) in devices() {
            let ad = device.clone().autodiff();
            let qt = upload_on(&ad, &q, b, d).require_grad();
            let extra_t = Tensor::<3>::from_data(TensorData::new(extra.clone(), [b, m, d]), &ad);
            let loss = contrastive_loss_with_extra(
                qt.clone(),
                upload_on(&ad, &pos, b, d),
                upload_on(&ad, &cand, n, d),
                Negatives::Mask(upload_on(&device, &mask, b, n)),
                Some(extra_t),
                tau,
                objective,
            )
            .unwrap();
            let grads = loss.backward();
            let grad = read_f32(qt.grad(&grads).unwrap());
            let got = read_f32(loss)[0] as f64;
            assert!((got - want).abs() < 1e-4 * (1.0 + want.abs()), "{name} {objective:?}: {got} vs {want}");
            let scale = numeric.iter().fold(0.0f64, |a, g| a.max(g.abs())).max(1e-3);
            for (i, (&g, &w)) in grad.iter().zip(&numeric).enumerate() {
                assert!((g as f64 - w).abs() <= 2e-3 * scale, "{name} {objective:?} d/dq[{i}]: {g} vs {w}");
            }
        }
    }
}

#[test]
fn mochi_settings_are_checked_by_name() {
    let err = |c: TrainConfig| c.validate().unwrap_err().to_string();
    assert!(err(TrainConfig { method: MethodKind::Simclr, mochi_hardest: 64, ..TrainConfig::default() }).contains("mochi_hardest"));
    assert!(
        err(TrainConfig { mochi_hardest: 64, mochi_mixes: 0, mochi_query_mixes: 0, ..TrainConfig::default() }).contains("nothing to mix")
    );
}

/// MoCoRing with MoCHi trains on the CPU backend: finite losses that fall.
#[test]
fn mocoring_with_mochi_trains() {
    let config = TrainConfig {
        method: MethodKind::Mocoring,
        mochi_hardest: 32,
        mochi_mixes: 32,
        mochi_query_mixes: 16,
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
    assert!(losses[3] < losses[0], "MoCHi loss did not fall: {losses:?}");
}
