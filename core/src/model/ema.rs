//! The key encoder: a copy of the query encoder that takes no gradients, updated as an
//! exponential moving average of the query's parameters (not of its batch-norm running
//! statistics, which are the key's own, as in MoCo).
//!
//! It stays on the autodiff device with gradients off (`no_grad`), not on the plain
//! device (`valid`): burn's batch norm uses batch statistics only for inputs on an
//! autodiff device, and MoCo's key encoder normalises each key batch with its own
//! statistics (training mode). On the plain device it would normalise with running
//! statistics instead, which a run and its resumption from a checkpoint do not share.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use super::ContrastiveNet;

/// The query encoder's parameter values, flattened, by parameter id.
struct Collect(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Trainable parameters only: batch-norm running statistics never require grad.
        if !param.val().is_require_grad() {
            return;
        }
        let value = param.val().detach();
        let n = value.shape().num_elements();
        self.0.insert(param.id, value.reshape([n]));
    }
}

/// k <- m k + (1 - m) q for every parameter present in both.
struct Ema {
    query: HashMap<ParamId, Tensor<1>>,
    momentum: f64,
}

impl ModuleMapper for Ema {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.query.remove(&param.id) {
            Some(q) => {
                let m = self.momentum;
                param.map(|k| {
                    let shape = k.shape();
                    (k.detach().mul_scalar(m) + q.reshape(shape).mul_scalar(1.0 - m)).set_require_grad(false)
                })
            }
            None => param,
        }
    }
}

/// A key encoder: the query encoder's values (same parameter ids), on the same autodiff
/// device with gradients off, in training mode, with batch-norm running statistics of
/// its own (`valid` copies them out of the query's shared state, `train` comes back).
pub fn key_encoder(query: &ContrastiveNet) -> ContrastiveNet {
    query.valid().train().no_grad()
}

/// `key <- momentum * key + (1 - momentum) * query`, parameter by parameter.
pub fn momentum_update(key: ContrastiveNet, query: &ContrastiveNet, momentum: f64) -> ContrastiveNet {
    let mut collect = Collect(HashMap::new());
    query.visit(&mut collect);
    key.map(&mut Ema { query: collect.0, momentum }).no_grad()
}
