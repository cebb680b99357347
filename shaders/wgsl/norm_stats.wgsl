// norm_stats.wgsl: batch norm's per-channel batch statistics, one workgroup per channel
// (launched with exactly `channels` workgroups, so every workgroup reaches the barriers).
// Each invocation runs Welford's update over a strided share of the channel's values, then
// the workgroup merges the 256 (count, mean, M2) triples pairwise (Chan et al.), so no sum
// of squares cancels. The values are taken relative to the channel's first one (the
// shift), so the means stay small and keep their precision when the mean is large against
// the spread. Writes the four rows of the statistics buffer (norm_common.wgsl).
// A NaN in a channel makes its mean and variance NaN.

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: NormParams;

var<workgroup> counts: array<f32, WORKGROUP>;
var<workgroup> means: array<f32, WORKGROUP>;
var<workgroup> m2s: array<f32, WORKGROUP>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let p = params;
    let channel = group.x + group.y * groups.x;
    let values = p.batch * p.plane;
    let shift = x[channel_element(0u, channel, p)];
    var count = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    for (var i = t; i < values; i += WORKGROUP) {
        let v = x[channel_element(i, channel, p)] - shift;
        count += 1.0;
        let d = v - mean;
        mean += d / count;
        m2 += d * (v - mean);
    }
    counts[t] = count;
    means[t] = mean;
    m2s[t] = m2;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            let na = counts[t];
            let nb = counts[t + stride];
            let n = na + nb;
            if nb > 0.0 {
                let delta = means[t + stride] - means[t];
                means[t] = means[t] + delta * (nb / n);
                m2s[t] = m2s[t] + m2s[t + stride] + delta * delta * (na * nb / n);
                counts[t] = n;
            }
        }
        workgroupBarrier();
    }
    if t == 0u {
        stats[channel] = shift + means[0];
        stats[p.channels + channel] = m2s[0] / max(counts[0], 1.0);
        stats[2u * p.channels + channel] = shift;
        stats[3u * p.channels + channel] = means[0];
    }
}
