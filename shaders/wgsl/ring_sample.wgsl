// ring_sample.wgsl: IRing form. For every row, `samples` columns drawn uniformly, with
// replacement, from the row's ring (its compacted member list from ring_compact).
// Draw t of row r uses the counter-based generator random_bits(r, t, attempt) of
// common.wgsl, so results do not depend on the launch shape.
// Reference: core/src/ring/sample.rs (sample_reference).

@group(0) @binding(0) var<storage, read_write> members: array<u32>;
@group(0) @binding(1) var<storage, read_write> drawn: array<u32>;
@group(0) @binding(2) var<storage, read_write> params: RingParams;

@compute @workgroup_size(256)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let index = gid.x + gid.y * groups.x * WORKGROUP;
    let samples = params.samples;
    let ring_len = ring_length();
    if index >= params.rows * samples || ring_len == 0u {
        return;
    }
    let row = index / samples;
    let draw = index % samples;
    drawn[index] = members[row * ring_len + uniform_below(ring_len, row, draw)];
}
