// augment.wgsl: two-view image augmentation on the GPU, one workgroup per output view.
//
// For each view: random resized crop (the crop box comes from the host) with bilinear
// resampling, horizontal flip, colour jitter (brightness, contrast, saturation, hue in
// the view's random order), grayscale, then per-channel normalisation. Source images are
// 8-bit RGB (HWC) packed four bytes per u32, resident on the GPU; the output is f32 NCHW.
// Reference: core/src/augment/reference.rs (augment_reference).

struct AugmentParams {
    // Views in this launch (= workgroups).
    views: u32,
    // Source image size.
    src_height: u32,
    src_width: u32,
    // Output image size.
    out_height: u32,
    out_width: u32,
    // Images in the bound pixel buffer.
    images: u32,
    // Normalisation: (x - mean) / std per channel.
    mean_r: f32,
    mean_g: f32,
    mean_b: f32,
    std_r: f32,
    std_g: f32,
    std_b: f32,
}

// One view's random choices (drawn on the host; mirrored by `ViewParams` in Rust).
struct View {
    // Image index within the bound pixel buffer.
    image: u32,
    // Output slot (index of the view in the output tensor).
    slot: u32,
    // 1: mirror horizontally.
    flip: u32,
    // 1: apply the colour jitter.
    jitter: u32,
    // 1: convert to grayscale (after the jitter).
    grayscale: u32,
    // Jitter order: four 2-bit op codes, first op in the low bits
    // (0 brightness, 1 contrast, 2 saturation, 3 hue).
    order: u32,
    // Crop box in source pixels (integers).
    crop_x: f32,
    crop_y: f32,
    crop_w: f32,
    crop_h: f32,
    // Jitter factors.
    brightness: f32,
    contrast: f32,
    saturation: f32,
    hue: f32,
    // Gaussian blur sigma in pixels, 0 for none (applied by blur.wgsl after this kernel).
    blur_sigma: f32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read_write> pixels: array<u32>;
@group(0) @binding(1) var<storage, read_write> views: array<View>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> params: AugmentParams;

const WORKGROUP: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

fn source_value(image: u32, y: u32, x: u32, c: u32) -> f32 {
    let index = ((image * params.src_height + y) * params.src_width + x) * 3u + c;
    let byte = (pixels[index / 4u] >> ((index % 4u) * 8u)) & 0xffu;
    return f32(byte) / 255.0;
}

// Bilinear sample of the crop box at output pixel (ox, oy), align-corners off, edges clamped.
fn sample(v: View, ox: u32, oy: u32) -> vec3<f32> {
    var x_out = ox;
    if v.flip != 0u {
        x_out = params.out_width - 1u - ox;
    }
    let x_last = v.crop_x + v.crop_w - 1.0;
    let y_last = v.crop_y + v.crop_h - 1.0;
    let sx = clamp(v.crop_x + (f32(x_out) + 0.5) * v.crop_w / f32(params.out_width) - 0.5, v.crop_x, x_last);
    let sy = clamp(v.crop_y + (f32(oy) + 0.5) * v.crop_h / f32(params.out_height) - 0.5, v.crop_y, y_last);
    let x0 = floor(sx);
    let y0 = floor(sy);
    let x1 = min(x0 + 1.0, x_last);
    let y1 = min(y0 + 1.0, y_last);
    let fx = sx - x0;
    let fy = sy - y0;
    var rgb = vec3<f32>(0.0);
    for (var c = 0u; c < 3u; c++) {
        let a = source_value(v.image, u32(y0), u32(x0), c);
        let b = source_value(v.image, u32(y0), u32(x1), c);
        let d = source_value(v.image, u32(y1), u32(x0), c);
        let e = source_value(v.image, u32(y1), u32(x1), c);
        let top = a + (b - a) * fx;
        let bottom = d + (e - d) * fx;
        rgb[c] = top + (bottom - top) * fy;
    }
    return rgb;
}

fn gray(rgb: vec3<f32>) -> f32 {
    return 0.299 * rgb.r + 0.587 * rgb.g + 0.114 * rgb.b;
}

fn rgb_to_hsv(rgb: vec3<f32>) -> vec3<f32> {
    let maxc = max(rgb.r, max(rgb.g, rgb.b));
    let minc = min(rgb.r, min(rgb.g, rgb.b));
    let delta = maxc - minc;
    var h = 0.0;
    if delta > 0.0 {
        if maxc == rgb.r {
            h = (rgb.g - rgb.b) / delta;
        } else if maxc == rgb.g {
            h = 2.0 + (rgb.b - rgb.r) / delta;
        } else {
            h = 4.0 + (rgb.r - rgb.g) / delta;
        }
        h = h / 6.0;
        h = h - floor(h);
    }
    var s = 0.0;
    if maxc > 0.0 {
        s = delta / maxc;
    }
    return vec3<f32>(h, s, maxc);
}

fn hsv_to_rgb(hsv: vec3<f32>) -> vec3<f32> {
    let h6 = hsv.x * 6.0;
    let sector = floor(h6);
    let f = h6 - sector;
    let v = hsv.z;
    let p = v * (1.0 - hsv.y);
    let q = v * (1.0 - hsv.y * f);
    let t = v * (1.0 - hsv.y * (1.0 - f));
    let i = u32(sector) % 6u;
    switch i {
        case 0u: { return vec3<f32>(v, t, p); }
        case 1u: { return vec3<f32>(q, v, p); }
        case 2u: { return vec3<f32>(p, v, t); }
        case 3u: { return vec3<f32>(p, q, v); }
        case 4u: { return vec3<f32>(t, p, v); }
        default: { return vec3<f32>(v, p, q); }
    }
}

fn load(base: u32, plane: u32, p: u32) -> vec3<f32> {
    return vec3<f32>(out[base + p], out[base + plane + p], out[base + 2u * plane + p]);
}

fn store(base: u32, plane: u32, p: u32, rgb: vec3<f32>) {
    out[base + p] = rgb.r;
    out[base + plane + p] = rgb.g;
    out[base + 2u * plane + p] = rgb.b;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let index = wg.x + wg.y * groups.x;
    let in_range = index < params.views;
    let v = views[min(index, max(params.views, 1u) - 1u)];
    let plane = params.out_height * params.out_width;
    let base = v.slot * 3u * plane;

    // Crop, resize, flip.
    if in_range {
        for (var p = lid; p < plane; p += WORKGROUP) {
            store(base, plane, p, sample(v, p % params.out_width, p / params.out_width));
        }
    }

    // Colour jitter: four steps in the view's order. The image mean (for contrast) is
    // computed at every step so that barriers stay in uniform control flow.
    for (var step = 0u; step < 4u; step++) {
        var sum = 0.0;
        if in_range {
            for (var p = lid; p < plane; p += WORKGROUP) {
                sum += gray(load(base, plane, p));
            }
        }
        partial[lid] = sum;
        workgroupBarrier();
        for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
            if lid < stride {
                partial[lid] += partial[lid + stride];
            }
            workgroupBarrier();
        }
        let mean = partial[0] / f32(plane);
        workgroupBarrier();
        let op = (v.order >> (2u * step)) & 3u;
        if in_range && v.jitter != 0u {
            for (var p = lid; p < plane; p += WORKGROUP) {
                var rgb = load(base, plane, p);
                switch op {
                    case 0u: { rgb = clamp(rgb * v.brightness, vec3<f32>(0.0), vec3<f32>(1.0)); }
                    case 1u: { rgb = clamp(v.contrast * rgb + (1.0 - v.contrast) * mean, vec3<f32>(0.0), vec3<f32>(1.0)); }
                    case 2u: { rgb = clamp(v.saturation * rgb + (1.0 - v.saturation) * gray(rgb), vec3<f32>(0.0), vec3<f32>(1.0)); }
                    default: {
                        var hsv = rgb_to_hsv(rgb);
                        hsv.x = hsv.x + v.hue;
                        hsv.x = hsv.x - floor(hsv.x);
                        rgb = hsv_to_rgb(hsv);
                    }
                }
                store(base, plane, p, rgb);
            }
        }
    }

    // Grayscale, then normalise.
    if in_range {
        let channel_mean = vec3<f32>(params.mean_r, params.mean_g, params.mean_b);
        let deviation = vec3<f32>(params.std_r, params.std_g, params.std_b);
        for (var p = lid; p < plane; p += WORKGROUP) {
            var rgb = load(base, plane, p);
            if v.grayscale != 0u {
                rgb = vec3<f32>(gray(rgb));
            }
            store(base, plane, p, (rgb - channel_mean) / deviation);
        }
    }
}
