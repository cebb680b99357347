//! Weighted kNN classification on the GPU (the monitor of InstDisc / MoCo):
//! for each query, its k most similar bank features (cosine, by ring_select over
//! positions [0, k), ties by bank index), each voting for its class with weight
//! exp(similarity / tau); the class with the largest total wins.

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{Result, input_error};
use crate::gpu::read::read_i64;
use crate::ring::{Pairing, order_key, ring_select_positions, similarities};

/// kNN settings (defaults: k = 200, tau = 0.1, as in InstDisc and MoCo; k = 1 is
/// nearest-neighbour classification, the Ring authors' monitor).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnnConfig {
    /// Neighbours per query.
    pub k: usize,
    /// Temperature of the vote weights.
    pub temperature: f64,
    /// Queries per chunk (bounds the chunk x N similarity matrix in memory).
    pub chunk: usize,
}

impl Default for KnnConfig {
    fn default() -> Self {
        KnnConfig { k: 200, temperature: 0.1, chunk: 256 }
    }
}

/// Predicted class of every row of `queries` (M x d, L2-normalised) from `bank`
/// (N x d, L2-normalised) labelled `bank_labels` (N entries < `classes`). Lazy: returns
/// the M predictions on the GPU.
pub fn knn_predict(bank: Tensor<2>, bank_labels: &[u32], classes: usize, queries: Tensor<2>, config: &KnnConfig) -> Result<Tensor<1, Int>> {
    let [n, d] = bank.dims();
    let [m, dq] = queries.dims();
    if dq != d || bank_labels.len() != n || m == 0 || classes == 0 {
        input_error!(
            "kNN needs a bank N x d with N labels and queries M x d: got bank {n} x {d}, {} labels, queries {m} x {dq}",
            bank_labels.len()
        );
    }
    if let Some(&bad) = bank_labels.iter().find(|&&l| l as usize >= classes) {
        input_error!("bank label {bad} is not below {classes} classes");
    }
    if config.chunk == 0 || config.temperature.is_nan() || config.temperature <= 0.0 {
        input_error!("kNN chunk must be positive and temperature > 0");
    }
    let k = config.k.min(n).max(1);
    let device = bank.device();
    let mut one_hot = vec![0.0f32; n * classes];
    for (i, &label) in bank_labels.iter().enumerate() {
        one_hot[i * classes + label as usize] = 1.0;
    }
    let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [n, classes]), &device);
    let mut predictions = Vec::new();
    for start in (0..m).step_by(config.chunk) {
        let end = (start + config.chunk).min(m);
        let sims = similarities(queries.clone().slice([start..end, 0..d]), bank.clone());
        let top = ring_select_positions(sims.clone(), 0, k, Pairing::None)?.mask();
        let weights = (sims.div_scalar(config.temperature).exp()) * top;
        let scores = weights.matmul(one_hot.clone());
        predictions.push(scores.argmax(1).reshape([end - start]));
    }
    Ok(Tensor::cat(predictions, 0))
}

/// Fraction of `predicted` (read back, asynchronously) equal to `labels`.
pub async fn top1(predicted: Tensor<1, Int>, labels: &[u32]) -> Result<f64> {
    let predicted = read_i64(predicted).await?;
    if predicted.len() != labels.len() || labels.is_empty() {
        input_error!("{} predictions for {} labels", predicted.len(), labels.len());
    }
    let correct = predicted.iter().zip(labels).filter(|(p, l)| **p == **l as i64).count();
    Ok(correct as f64 / labels.len() as f64)
}

/// Weighted kNN top-1 accuracy of `queries` labelled `query_labels`, with `bank`
/// labelled `bank_labels` (`classes` classes) as the neighbours.
pub async fn knn_top1(
    bank: Tensor<2>,
    bank_labels: &[u32],
    classes: usize,
    queries: Tensor<2>,
    query_labels: &[u32],
    config: &KnnConfig,
) -> Result<f64> {
    top1(knn_predict(bank, bank_labels, classes, queries, config)?, query_labels).await
}

/// Plain-Rust reference of [`knn_predict`] (f64 votes; ties between classes go to the
/// smaller class index).
pub fn knn_reference(bank: &[f32], bank_labels: &[u32], classes: usize, queries: &[f32], d: usize, config: &KnnConfig) -> Vec<u32> {
    let n = bank_labels.len();
    let k = config.k.min(n).max(1);
    queries
        .chunks_exact(d)
        .map(|q| {
            let mut ranked: Vec<(u64, f32)> = (0..n)
                .map(|j| {
                    let s: f32 = q.iter().zip(&bank[j * d..(j + 1) * d]).map(|(a, b)| a * b).sum();
                    (((order_key(s) as u64) << 32) | j as u64, s)
                })
                .collect();
            ranked.sort_unstable_by_key(|&(key, _)| key);
            let mut votes = vec![0.0f64; classes];
            for &(key, s) in &ranked[..k] {
                votes[bank_labels[(key & 0xffff_ffff) as usize] as usize] += (s as f64 / config.temperature).exp();
            }
            let mut best = 0;
            for c in 1..classes {
                if votes[c] > votes[best] {
                    best = c;
                }
            }
            best as u32
        })
        .collect()
}
