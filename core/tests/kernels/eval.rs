//! Evaluation on the GPU: weighted kNN against its reference, and the linear probe.

use crate::common::*;
use ring_wgpu_core::burn::tensor::{Int, Tensor, TensorData};
use ring_wgpu_core::eval::{KnnConfig, LinearProbeConfig, knn_predict, knn_reference, linear_probe};

fn clustered(n: usize, d: usize, classes: usize, noise: f32, rng: &mut Rng, centers: &[Vec<f32>]) -> (Vec<f32>, Vec<u32>) {
    let mut x = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = (rng.below(classes as u64) as usize + i) % classes;
        let mut v: Vec<f32> = centers[c].iter().map(|m| m + noise * rng.unit()).collect();
        let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= norm);
        x.extend(v);
        labels.push(c as u32);
    }
    (x, labels)
}

fn read_int(t: Tensor<1, Int>) -> Vec<u32> {
    let n = t.dims()[0];
    read_u32(t.reshape([1, n]))
}

#[test]
fn predictions_match_reference() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let (d, classes) = (8, 5);
    let mut rng = Rng(17);
    let centers: Vec<Vec<f32>> = (0..classes).map(|_| (0..d).map(|_| rng.unit()).collect()).collect();
    let (bank, bank_labels) = clustered(600, d, classes, 0.9, &mut rng, &centers);
    let (queries, query_labels) = clustered(301, d, classes, 0.9, &mut rng, &centers);
    let bank_t = Tensor::<2>::from_data(TensorData::new(bank.clone(), [600, d]), device);
    let queries_t = Tensor::<2>::from_data(TensorData::new(queries.clone(), [301, d]), device);
    for config in [
        KnnConfig { chunk: 64, ..KnnConfig::default() },
        KnnConfig { k: 7, temperature: 0.5, chunk: 1000 },
        KnnConfig { k: 5000, ..KnnConfig::default() },
    ] {
        let got = read_int(knn_predict(bank_t.clone(), &bank_labels, classes, queries_t.clone(), &config).unwrap());
        let want = knn_reference(&bank, &bank_labels, classes, &queries, d, &config);
        assert_eq!(got, want, "{config:?}");
        let accuracy = got.iter().zip(&query_labels).filter(|(a, b)| a == b).count() as f64 / 301.0;
        assert!(accuracy > 0.5, "{config:?}: accuracy {accuracy} on separable clusters");
    }
}

/// k = 1 is nearest-neighbour classification (the Ring authors' monitor): each query
/// takes the label of its single most similar bank entry (ties to the smaller index).
#[test]
fn one_nearest_neighbour_matches_a_brute_force_search() {
    let (d, classes) = (6, 4);
    let mut rng = Rng(5);
    let centers: Vec<Vec<f32>> = (0..classes).map(|_| (0..d).map(|_| rng.unit()).collect()).collect();
    let (bank, bank_labels) = clustered(257, d, classes, 1.5, &mut rng, &centers);
    let (queries, _) = clustered(33, d, classes, 1.5, &mut rng, &centers);
    let want: Vec<u32> = queries
        .chunks(d)
        .map(|q| {
            let sim = |j: usize| q.iter().zip(&bank[j * d..(j + 1) * d]).map(|(a, b)| a * b).sum::<f32>();
            let best = (0..257).fold(0, |best, j| if sim(j) > sim(best) { j } else { best });
            bank_labels[best]
        })
        .collect();
    let config = KnnConfig { k: 1, ..KnnConfig::default() };
    assert_eq!(knn_reference(&bank, &bank_labels, classes, &queries, d, &config), want);
    for (name, device) in devices() {
        let bank_t = Tensor::<2>::from_data(TensorData::new(bank.clone(), [257, d]), &device);
        let queries_t = Tensor::<2>::from_data(TensorData::new(queries.clone(), [33, d]), &device);
        assert_eq!(read_int(knn_predict(bank_t, &bank_labels, classes, queries_t, &config).unwrap()), want, "{name}");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let bank = Tensor::<2>::ones([4, 3], device);
    let queries = Tensor::<2>::ones([2, 3], device);
    assert!(knn_predict(bank.clone(), &[0, 1, 2], 3, queries.clone(), &KnnConfig::default()).is_err());
    assert!(knn_predict(bank.clone(), &[0, 1, 2, 3], 3, queries.clone(), &KnnConfig::default()).is_err());
    assert!(knn_predict(bank, &[0, 1, 2, 2], 3, Tensor::<2>::ones([2, 4], device), &KnnConfig::default()).is_err());
}

#[test]
fn linear_probe_separates_clusters() {
    let Some(gpu) = gpu() else { return };
    let device = gpu.burn_device();
    let (d, classes) = (16, 5);
    let mut rng = Rng(23);
    let centers: Vec<Vec<f32>> = (0..classes).map(|_| (0..d).map(|_| rng.unit()).collect()).collect();
    let (train, train_labels) = clustered(300, d, classes, 0.3, &mut rng, &centers);
    let (test, test_labels) = clustered(100, d, classes, 0.3, &mut rng, &centers);
    // Unnormalised, offset features: the probe standardises them itself.
    let shift = |v: Vec<f32>| v.into_iter().map(|x| 40.0 * x + 7.0).collect::<Vec<f32>>();
    let train_t = Tensor::<2>::from_data(TensorData::new(shift(train), [300, d]), device);
    let test_t = Tensor::<2>::from_data(TensorData::new(shift(test), [100, d]), device);
    let config = LinearProbeConfig { epochs: 15, batch: 64, ..LinearProbeConfig::default() };
    let predicted = read_int(linear_probe(train_t.clone(), &train_labels, classes, test_t.clone(), &config).unwrap());
    let accuracy = predicted.iter().zip(&test_labels).filter(|(a, b)| a == b).count() as f64 / 100.0;
    assert!(accuracy >= 0.9, "linear probe accuracy {accuracy} on separable clusters");
    assert!(linear_probe(train_t.clone(), &train_labels[..10], classes, test_t.clone(), &config).is_err());
    assert!(linear_probe(train_t, &train_labels, 2, test_t, &config).is_err());
}

#[test]
fn pca_matches_reference() {
    let Some(gpu) = gpu() else { return };
    let (n, f) = (400, 6);
    let mut rng = Rng(31);
    // Anisotropic data: variances 16, 4, 1, 0.25, ... along the axes, then mixed.
    let x: Vec<f32> = (0..n * f).map(|i| rng.unit() * 4.0 / 2f32.powi((i % f) as i32) + 0.3 * (i / f % 7) as f32).collect();
    let got =
        read_f32(ring_wgpu_core::eval::pca(Tensor::<2>::from_data(TensorData::new(x.clone(), [n, f]), gpu.burn_device()), 2, 5).unwrap());
    let want = ring_wgpu_core::eval::pca_reference(&x, n, f, 2, 5);
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!((*g as f64 - w).abs() <= 1e-3 * scale, "gpu {g}, reference {w}");
    }
    // The first component carries more variance than the second.
    let var = |c: usize| want.iter().skip(c).step_by(2).map(|v| v * v).sum::<f64>();
    assert!(var(0) > var(1));
}
