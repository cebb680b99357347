// norm_grad_apply.wgsl: batch norm's input gradient, one invocation per element:
// dx = gamma[c] / sqrt(variance[c] + epsilon) * (dy - sum_dy[c] / m - xhat * sum_dy_xhat[c] / m)
// with xhat = (x - mean[c]) / sqrt(variance[c] + epsilon), m = batch * plane, and the sums
// norm_grad_stats.wgsl wrote.

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> params: NormParams;

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
    let m = f32(p.batch * p.plane);
    let scale = inv_std(c, p);
    let xhat = centred(x[e], c, p) * scale;
    dx[e] = gamma[c] * scale * (dy[e] - sums[c] / m - xhat * sums[p.channels + c] / m);
}
