//! The key encoder: a copy of the query encoder without autodiff, updated as an
//! exponential moving average (parameters only; batch-norm statistics are its own).

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use crate::model::ContrastiveNet;

/// The query encoder's parameter values, flattened, by parameter id.
struct Collect(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().without_autodiff();
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
                    k.mul_scalar(m) + q.reshape(shape).mul_scalar(1.0 - m)
                })
            }
            None => param,
        }
    }
}

/// Training-mode flags on, parameters untouched: batch norm uses batch statistics.
struct TrainingFlags;

impl ModuleMapper for TrainingFlags {
    fn map_flag(&mut self, flag: Param<burn::module::Flag>) -> Param<burn::module::Flag> {
        flag.with_value(true)
    }
}

/// A key encoder: the query encoder's values without autodiff, in training mode.
pub fn key_encoder(query: &ContrastiveNet) -> ContrastiveNet {
    query.valid().map(&mut TrainingFlags)
}

/// `key <- momentum * key + (1 - momentum) * query`, parameter by parameter.
pub fn momentum_update(key: ContrastiveNet, query: &ContrastiveNet, momentum: f64) -> ContrastiveNet {
    let mut collect = Collect(HashMap::new());
    query.visit(&mut collect);
    key.map(&mut Ema { query: collect.0, momentum })
}
