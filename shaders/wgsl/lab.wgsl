// lab.wgsl: CMC's colour split. Normalised RGB views (augment.wgsl's output) to
// normalised CIE Lab (D65), one invocation per pixel of the views x 3 x size x size f32
// tensor; the output has the same layout with channels L, a, b.
// Per pixel: undo the normalisation (v * std + mean), clamp to [0, 1] (NaN counts as 0),
// sRGB gamma -> linear, linear RGB -> XYZ (sRGB matrix, D65 white), XYZ -> Lab
// (f(t) = t^(1/3) above 0.008856, else 7.787 t + 16/116), the constants of scikit-image's
// rgb2lab, which CMC's code calls; then CMC's normalisation
// of each Lab channel to about [-1, 1]: (L - 50) / 50, (a - 6.025) / 92.208,
// (b + 6.6895) / 101.1675.
// Reference: core/src/augment/lab.rs (lab_reference).

struct LabParams {
    // Views in the tensor.
    views: u32,
    // Pixels per view (size * size).
    plane: u32,
    pad0: u32,
    pad1: u32,
    // Normalisation of the input: rgb = v * std + mean.
    mean_r: f32,
    mean_g: f32,
    mean_b: f32,
    pad2: f32,
    std_r: f32,
    std_g: f32,
    std_b: f32,
    pad3: f32,
}

@group(0) @binding(0) var<storage, read_write> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: LabParams;

const WORKGROUP: u32 = 256u;

// v * std + mean clamped to [0, 1]; NaN (tested on its bits: no fast-math assumption) is 0.
fn unit(v: f32, mean: f32, spread: f32) -> f32 {
    let bits = bitcast<u32>(v) & 0x7fffffffu;
    if bits > 0x7f800000u {
        return 0.0;
    }
    return clamp(v * spread + mean, 0.0, 1.0);
}

fn linear(c: f32) -> f32 {
    if c <= 0.04045 {
        return c / 12.92;
    }
    return pow((c + 0.055) / 1.055, 2.4);
}

fn lab_f(t: f32) -> f32 {
    if t > 0.008856 {
        return pow(t, 1.0 / 3.0);
    }
    return t * 7.787 + 0.13793103;
}

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let pixel = gid.x + gid.y * groups.x * WORKGROUP;
    let plane = params.plane;
    if pixel >= params.views * plane {
        return;
    }
    let view = pixel / plane;
    let base = view * 3u * plane + pixel % plane;
    let r = linear(unit(src[base], params.mean_r, params.std_r));
    let g = linear(unit(src[base + plane], params.mean_g, params.std_g));
    let b = linear(unit(src[base + 2u * plane], params.mean_b, params.std_b));
    let x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047;
    let y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
    let z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883;
    let fx = lab_f(x);
    let fy = lab_f(y);
    let fz = lab_f(z);
    let l = 116.0 * fy - 16.0;
    let a = 500.0 * (fx - fy);
    let bb = 200.0 * (fy - fz);
    dst[base] = (l - 50.0) / 50.0;
    dst[base + plane] = (a - 6.025) / 92.208;
    dst[base + 2u * plane] = (bb + 6.6895) / 101.1675;
}
