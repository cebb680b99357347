// ring_mask.wgsl: MoCoRing form. mask[row, col] = 1.0 if the candidate lies in the row's
// ring (as found by ring_select), else 0.0. One invocation per element.
// Reference: core/src/ring/mask.rs (mask_reference).

@group(0) @binding(0) var<storage, read_write> sims: array<u32>;
@group(0) @binding(1) var<storage, read_write> bounds: array<u32>;
@group(0) @binding(2) var<storage, read_write> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> params: RingParams;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = gid.x + gid.y * groups.x * WORKGROUP;
    let cols = params.cols;
    if index >= params.rows * cols {
        return;
    }
    let row = index / cols;
    let col = index % cols;
    let b = row * BOUND_WORDS;
    let inside = !is_excluded(row, col) && ring_contains(
        order_key(sims[index]), col,
        bounds[b + 0u], bounds[b + 1u], bounds[b + 2u], bounds[b + 3u], bounds[b + 6u],
    );
    mask[index] = select(0.0, 1.0, inside);
}
