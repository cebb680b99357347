// norm_common.wgsl: what the batch-norm kernels share (prepended to each). The activations
// are batch x channels x plane f32, row-major (NCHW with plane = H * W); a channel's values
// are the `batch * plane` elements with that channel index.
// Reference: core/cpu-kernels/src/norm.rs (batch_norm_train_reference and its backward).

struct NormParams {
    batch: u32,
    channels: u32,
    // Elements per image and channel (H * W).
    plane: u32,
    // Added to the variance before the square root.
    epsilon: f32,
}

const WORKGROUP: u32 = 256u;

// The statistics buffer norm_stats.wgsl writes, four rows of `channels`: the mean, the
// biased variance (these two are what the running statistics take), the shift (the
// channel's first value) and the mean relative to the shift. The kernels centre a value as
// (x - shift) - relative_mean, which keeps the precision an f32 mean of a channel whose
// mean is large against its spread would lose.
fn centred(v: f32, c: u32, p: NormParams) -> f32 {
    return (v - stats[2u * p.channels + c]) - stats[3u * p.channels + c];
}

fn inv_std(c: u32, p: NormParams) -> f32 {
    return 1.0 / sqrt(stats[p.channels + c] + p.epsilon);
}

// The element an invocation of a one-per-element kernel handles (the grid spills into y).
fn element_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP;
}

// Index of the i-th value (0 <= i < batch * plane) of `channel`.
fn channel_element(i: u32, channel: u32, p: NormParams) -> u32 {
    let image = i / p.plane;
    return (image * p.channels + channel) * p.plane + (i - image * p.plane);
}
