//! A module's values as named, flattened tensors (`backbone.blocks.0.conv1.weight`, ...):
//! the method-agnostic form of model state that checkpoints store. Collecting is lazy
//! (the tensors stay on the device; [`crate::train::checkpoint`] reads them back
//! asynchronously); loading replaces each value by its path and keeps parameter ids.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

/// Tensors by name, flattened (1-D), on the device.
pub type NamedTensors = Vec<(String, Tensor<1>)>;

/// A tensor's values on the host: shape and row-major f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape (the flattened form has one dimension).
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// The dotted path of the module being visited.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamPath(Vec<String>);

impl ParamPath {
    pub(crate) fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }

    pub(crate) fn exit(&mut self) {
        self.0.pop();
    }

    /// The path of the current parameter (the enclosing modules' names joined by dots).
    pub(crate) fn leaf(&self) -> String {
        self.0.join(".")
    }
}

struct Collect {
    path: ParamPath,
    prefix: String,
    out: NamedTensors,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().detach().without_autodiff();
        let n = value.shape().num_elements();
        self.out.push((format!("{}{}", self.prefix, self.path.leaf()), value.reshape([n])));
    }
}

struct Draw;

impl ModuleVisitor for Draw {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Draws every parameter of `module` that is still waiting for its initial value: burn
/// draws initial weights lazily, at their first use, from the device's shared generator.
/// Called inside [`crate::rng::seeded`], so that the weights come from the run's seed
/// whatever other threads do before the first step.
pub(crate) fn draw_initial_values<M: Module>(module: &M) {
    module.visit(&mut Draw);
}

/// Every float value of `module` (parameters and batch-norm running statistics), named
/// `prefix` + path. Merge pending batch-norm updates first (`module.valid()`), or the
/// running statistics are those before the last training step.
pub fn named_tensors<M: Module>(module: &M, prefix: &str) -> NamedTensors {
    let mut collect = Collect { path: ParamPath::default(), prefix: prefix.to_string(), out: Vec::new() };
    module.visit(&mut collect);
    collect.out
}

struct Load<'a> {
    path: ParamPath,
    prefix: &'a str,
    values: &'a mut HashMap<String, HostTensor>,
    problems: Vec<String>,
}

impl ModuleMapper for Load<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = format!("{}{}", self.prefix, self.path.leaf());
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let Some(host) = self.values.remove(&name) else {
            self.problems.push(format!("{name} is missing"));
            return Param::from_mapped_value(id, tensor, mapper);
        };
        if host.values.len() != shape.num_elements() {
            self.problems.push(format!("{name} holds {} values, the model needs {:?}", host.values.len(), shape.dims::<D>()));
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let require_grad = tensor.is_require_grad();
        let value = Tensor::<D>::from_data(TensorData::new(host.values, shape), &tensor.device());
        let value = if require_grad { value.require_grad() } else { value };
        Param::from_mapped_value(id, value, mapper)
    }
}

/// `module` with every value named `prefix` + path taken from `values` (which loses
/// them); errors list every value that is missing or of the wrong size.
pub fn load_named<M: Module>(module: M, prefix: &str, values: &mut HashMap<String, HostTensor>) -> Result<M, Vec<String>> {
    let mut load = Load { path: ParamPath::default(), prefix, values, problems: Vec::new() };
    let module = module.map(&mut load);
    if load.problems.is_empty() { Ok(module) } else { Err(load.problems) }
}
