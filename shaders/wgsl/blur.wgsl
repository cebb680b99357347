// blur.wgsl: Gaussian blur of augmented views (MoCo v2's GaussianBlur, sigma per view),
// one direction per launch (horizontal, then vertical: the Gaussian is separable).
// One invocation per output element of the views x 3 x size x size f32 tensor.
// Taps t in [-r, r], r = ceil(3 sigma), weights exp(-t^2 / (2 sigma^2)) normalised to
// sum 1; pixels beyond the border repeat the edge pixel. Views with sigma <= 0 are copied.
// Reference: core/src/augment/blur.rs (blur_reference).

struct BlurParams {
    // Views in the tensor.
    views: u32,
    // Side of each (square) view.
    size: u32,
    // 1: blur along x; 0: along y.
    horizontal: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> sigmas: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> params: BlurParams;

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = gid.x + gid.y * groups.x * WORKGROUP;
    let size = params.size;
    let plane = size * size;
    if index >= params.views * 3u * plane {
        return;
    }
    let view = index / (3u * plane);
    let sigma = sigmas[view];
    if sigma <= 0.0 {
        dst[index] = src[index];
        return;
    }
    let within = index % plane;
    let row_start = index - within;
    let y = i32(within / size);
    let x = i32(within % size);
    let last = i32(size) - 1;
    let radius = i32(ceil(3.0 * sigma));
    let denominator = 2.0 * sigma * sigma;
    var total = 0.0;
    var weights = 0.0;
    for (var t = -radius; t <= radius; t++) {
        let w = exp(-f32(t * t) / denominator);
        var p = 0u;
        if params.horizontal != 0u {
            p = u32(y) * size + u32(clamp(x + t, 0, last));
        } else {
            p = u32(clamp(y + t, 0, last)) * size + u32(x);
        }
        total += w * src[row_start + p];
        weights += w;
    }
    dst[index] = total / weights;
}
