// norm_grad_stats.wgsl: the per-channel sums of batch norm's backward pass, one workgroup
// per channel (launched with exactly `channels` workgroups): sums[c] = sum of dy (beta's
// gradient) and sums[channels + c] = sum of dy * (x - mean) / sqrt(variance + epsilon)
// (gamma's gradient), each invocation summing a strided share, then a tree over the
// workgroup.

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> sums: array<f32>;
@group(0) @binding(4) var<storage, read_write> params: NormParams;

var<workgroup> dy_sums: array<f32, WORKGROUP>;
var<workgroup> dy_x_sums: array<f32, WORKGROUP>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let p = params;
    let channel = group.x + group.y * groups.x;
    var dy_sum = 0.0;
    var dy_x_sum = 0.0;
    for (var i = t; i < p.batch * p.plane; i += WORKGROUP) {
        let at = channel_element(i, channel, p);
        dy_sum += dy[at];
        dy_x_sum += dy[at] * centred(x[at], channel, p);
    }
    dy_sums[t] = dy_sum;
    dy_x_sums[t] = dy_x_sum;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            dy_sums[t] += dy_sums[t + stride];
            dy_x_sums[t] += dy_x_sums[t + stride];
        }
        workgroupBarrier();
    }
    if t == 0u {
        sums[channel] = dy_sums[0];
        sums[p.channels + channel] = dy_x_sums[0] * inv_std(channel, p);
    }
}
