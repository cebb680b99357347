//! Linear evaluation: logistic regression on frozen features (the standard protocol for
//! self-supervised representations), trained with SGD on the GPU.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{Result, input_error};
use crate::rng::permutation;

/// Linear-probe settings (defaults: SGD lr 0.01, momentum 0.9, 100 epochs, batch 256,
/// cosine decay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearProbeConfig {
    /// Epochs over the training features.
    pub epochs: usize,
    /// Base learning rate (cosine-decayed to 0).
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// Features per step.
    pub batch: usize,
    /// Seed of the data order and the initial weights.
    pub seed: u64,
}

impl Default for LinearProbeConfig {
    fn default() -> Self {
        LinearProbeConfig { epochs: 100, lr: 0.01, momentum: 0.9, batch: 256, seed: 0 }
    }
}

/// Trains a linear classifier on `train` features (N x F, frozen) with `train_labels`
/// and returns its predictions for `test` (M x F). Features are standardised with the
/// training set's per-dimension mean and standard deviation first.
pub fn linear_probe(
    train: Tensor<2>,
    train_labels: &[u32],
    classes: usize,
    test: Tensor<2>,
    config: &LinearProbeConfig,
) -> Result<Tensor<1, Int>> {
    let [n, f] = train.dims();
    let [_, ft] = test.dims();
    if ft != f || train_labels.len() != n || n == 0 || classes == 0 || config.batch == 0 {
        input_error!(
            "linear probe needs N x F training features with N labels and M x F test features: got {n} x {f}, {} labels, test width {ft}",
            train_labels.len()
        );
    }
    if let Some(&bad) = train_labels.iter().find(|&&l| l as usize >= classes) {
        input_error!("label {bad} is not below {classes} classes");
    }
    let device = train.device();
    let mean = train.clone().mean_dim(0);
    let std = (train.clone() - mean.clone()).powi_scalar(2).mean_dim(0).sqrt().clamp_min(1e-6);
    let standardise = |x: Tensor<2>| (x - mean.clone()) / std.clone();
    let train = standardise(train);
    let test = standardise(test);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(train_labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [n]), &device);

    let autodiff = device.clone().autodiff();
    let mut model: Linear = crate::rng::seeded(&autodiff, config.seed, || {
        let model = LinearConfig::new(f, classes).init(&autodiff);
        crate::model::draw_initial_values(&model);
        model
    });
    let mut optimizer =
        SgdConfig::new().with_momentum(Some(MomentumConfig::new().with_momentum(config.momentum).with_dampening(0.0))).init();
    let loss_fn = CrossEntropyLossConfig::new().init(&autodiff);
    let steps_per_epoch = n.div_ceil(config.batch);
    let total = (config.epochs * steps_per_epoch).max(1);
    let mut step = 0;
    for epoch in 0..config.epochs {
        let order: Vec<i64> = permutation(n, config.seed ^ 0x11ea_12ba ^ (epoch as u64) << 32).into_iter().map(i64::from).collect();
        for chunk in order.chunks(config.batch) {
            let idx = Tensor::<1, Int>::from_data(TensorData::new(chunk.to_vec(), [chunk.len()]), &device);
            let x = train.clone().select(0, idx.clone());
            let y = labels.clone().select(0, idx);
            let loss = loss_fn.forward(model.forward(x), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = config.lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total as f64).cos());
            model = optimizer.step(lr, model, grads);
            step += 1;
        }
    }
    let m = test.dims()[0];
    Ok(model.valid().forward(test).argmax(1).reshape([m]))
}
