// norm_apply.wgsl: batch norm's output, one invocation per element:
// y = (x - mean[c]) / sqrt(variance[c] + epsilon) * gamma[c] + beta[c], with the statistics
// norm_stats.wgsl wrote (norm_common.wgsl's `centred` and `inv_std`).

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> params: NormParams;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let p = params;
    let e = element_index(gid, groups);
    if e >= p.batch * p.channels * p.plane {
        return;
    }
    let c = (e / p.plane) % p.channels;
    y[e] = centred(x[e], c, p) * inv_std(c, p) * gamma[c] + beta[c];
}
