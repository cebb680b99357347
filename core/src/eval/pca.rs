//! Principal components on the GPU (power iteration with deflation), for 2-D views of
//! embeddings.

use burn::tensor::{Tensor, TensorData};

use crate::error::{Result, input_error};
use crate::rng::SplitMix64;

/// Power-iteration steps per component.
pub const PCA_ITERATIONS: usize = 100;

fn start_vector(f: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64(seed);
    (0..f).map(|_| rng.range(-1.0, 1.0) as f32).collect()
}

/// Projects the rows of `x` (N x F) on their first `components` principal components
/// (N x components), entirely on the GPU: centre, covariance, then power iteration
/// (`PCA_ITERATIONS` steps from a seeded start) with deflation.
pub fn pca(x: Tensor<2>, components: usize, seed: u64) -> Result<Tensor<2>> {
    let [n, f] = x.dims();
    if n < 2 || components == 0 || components > f {
        input_error!("PCA of {n} x {f} into {components} components: need N >= 2 and 1 <= components <= F");
    }
    let device = x.device();
    let centred = x.clone() - x.mean_dim(0);
    let mut covariance = centred.clone().transpose().matmul(centred.clone()).div_scalar(n as f64);
    let mut basis = Vec::with_capacity(components);
    for c in 0..components {
        let mut v = Tensor::<2>::from_data(TensorData::new(start_vector(f, seed.wrapping_add(c as u64)), [f, 1]), &device);
        for _ in 0..PCA_ITERATIONS {
            let w = covariance.clone().matmul(v);
            v = w.clone() / w.powi_scalar(2).sum().sqrt().clamp_min(1e-30).reshape([1, 1]);
        }
        let lambda = v.clone().transpose().matmul(covariance.clone().matmul(v.clone())); // 1 x 1
        covariance = covariance - v.clone().matmul(v.clone().transpose()) * lambda;
        basis.push(v);
    }
    Ok(centred.matmul(Tensor::cat(basis, 1)))
}

/// Plain-Rust (f64) reference of [`pca`], same start vectors and steps.
pub fn pca_reference(x: &[f32], n: usize, f: usize, components: usize, seed: u64) -> Vec<f64> {
    let mut mean = vec![0.0f64; f];
    for row in x.chunks_exact(f) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / n as f64;
        }
    }
    let centred: Vec<f64> =
        x.chunks_exact(f).flat_map(|row| row.iter().zip(&mean).map(|(&v, m)| v as f64 - m).collect::<Vec<_>>()).collect();
    let mut cov = vec![0.0f64; f * f];
    for row in centred.chunks_exact(f) {
        for i in 0..f {
            for j in 0..f {
                cov[i * f + j] += row[i] * row[j] / n as f64;
            }
        }
    }
    let mut basis = Vec::new();
    for c in 0..components {
        let mut v: Vec<f64> = start_vector(f, seed.wrapping_add(c as u64)).into_iter().map(f64::from).collect();
        for _ in 0..PCA_ITERATIONS {
            let w: Vec<f64> = (0..f).map(|i| (0..f).map(|j| cov[i * f + j] * v[j]).sum()).collect();
            let norm = w.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-30);
            v = w.iter().map(|a| a / norm).collect();
        }
        let cv: Vec<f64> = (0..f).map(|i| (0..f).map(|j| cov[i * f + j] * v[j]).sum()).collect();
        let lambda: f64 = v.iter().zip(&cv).map(|(a, b)| a * b).sum();
        for i in 0..f {
            for j in 0..f {
                cov[i * f + j] -= lambda * v[i] * v[j];
            }
        }
        basis.push(v);
    }
    centred
        .chunks_exact(f)
        .flat_map(|row| basis.iter().map(|v| row.iter().zip(v).map(|(a, b)| a * b).sum::<f64>()).collect::<Vec<_>>())
        .collect()
}
