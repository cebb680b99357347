//! SGD with momentum and weight decay (PyTorch's semantics, dampening 0), with its state
//! as plain tensors keyed by parameter path, so that checkpoints can read it back
//! asynchronously (burn's own optimizer records read synchronously, which a browser
//! cannot).
//!
//! Per parameter p with gradient g: `g <- g + wd p`; `v <- g` on the first step, else
//! `v <- m v + g`; `p <- p - lr v`. The same arithmetic, in the same order, as burn's
//! `Sgd` with `MomentumConfig { dampening: 0 }` and `WeightDecayConfig`.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::model::{HostTensor, NamedTensors, ParamPath};

/// SGD settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdSettings {
    /// Momentum m (0: plain SGD).
    pub momentum: f64,
    /// Weight decay (L2 penalty added to the gradient).
    pub weight_decay: f64,
}

/// The optimizer: settings and one velocity per parameter.
#[derive(Debug, Clone)]
pub struct Sgd {
    settings: SgdSettings,
    /// Velocities by parameter path (flattened), on the parameters' device.
    velocity: HashMap<String, Tensor<1>>,
}

struct Step<'a> {
    lr: f64,
    settings: SgdSettings,
    grads: GradientsParams,
    velocity: &'a mut HashMap<String, Tensor<1>>,
    path: ParamPath,
}

impl ModuleMapper for Step<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else { return Param::from_mapped_value(id, tensor, mapper) };
        let require_grad = tensor.is_require_grad();
        let value = tensor.inner();
        let shape = value.shape();
        let n = shape.num_elements();
        let mut grad = grad;
        if self.settings.weight_decay != 0.0 {
            grad = value.clone().mul_scalar(self.settings.weight_decay).add(grad);
        }
        let path = self.path.leaf();
        let update = if self.settings.momentum != 0.0 {
            let velocity = match self.velocity.remove(&path) {
                Some(v) => grad.mul_scalar(1.0).add(v.reshape(shape.clone()).mul_scalar(self.settings.momentum)),
                None => grad,
            };
            self.velocity.insert(path, velocity.clone().reshape([n]));
            velocity
        } else {
            grad
        };
        let updated = Tensor::from_inner(value - update.mul_scalar(self.lr));
        let updated = if require_grad { updated.require_grad() } else { updated };
        Param::from_mapped_value(id, updated, mapper)
    }
}

impl Sgd {
    /// A fresh optimizer (no velocities yet).
    pub fn new(settings: SgdSettings) -> Self {
        Sgd { settings, velocity: HashMap::new() }
    }

    /// One step on `module` with `grads` (from `GradientsParams::from_grads`) at rate `lr`.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        let mut step = Step { lr, settings: self.settings, grads, velocity: &mut self.velocity, path: ParamPath::default() };
        module.map(&mut step)
    }

    /// The velocities, by parameter path.
    pub fn state(&self) -> NamedTensors {
        let mut names: Vec<&String> = self.velocity.keys().collect();
        names.sort();
        names.into_iter().map(|name| (name.clone(), self.velocity[name].clone())).collect()
    }

    /// Replaces the velocities (from [`Sgd::state`] of the same model).
    pub fn load_state(&mut self, state: NamedTensors) {
        self.velocity = state.into_iter().collect();
    }

    /// Replaces the velocities with `tensors` read from a checkpoint: every entry must be
    /// named `sgd.<parameter path>` (the names [`Sgd::state`] gets in a method's state)
    /// after a value of `model` (the module this optimiser trains) and hold as many values
    /// as it; anything else is refused here, not found later by a reshape in a step.
    pub fn load_host<M: Module>(
        &mut self,
        tensors: std::collections::HashMap<String, HostTensor>,
        model: &M,
        device: &Device,
    ) -> Result<(), String> {
        let sizes: HashMap<String, usize> =
            crate::model::named_tensors(model, "").into_iter().map(|(name, t)| (name, t.shape().num_elements())).collect();
        let mut velocities = Vec::with_capacity(tensors.len());
        for (name, host) in tensors {
            let Some(path) = name.strip_prefix("sgd.") else { return Err(format!("unexpected tensor {name}")) };
            let Some(&expected) = sizes.get(path) else { return Err(format!("{name} is the velocity of no parameter of the model")) };
            let n = host.values.len();
            if n != expected {
                return Err(format!("{name} holds {n} values, its parameter {expected}"));
            }
            velocities.push((path.to_string(), Tensor::<1>::from_data(TensorData::new(host.values, [n]), device)));
        }
        self.load_state(velocities);
        Ok(())
    }
}
