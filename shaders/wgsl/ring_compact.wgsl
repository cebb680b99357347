// ring_compact.wgsl: the ring of every row as a list of columns, in increasing column
// order (row-major, ring_len entries per row). One workgroup per row: each invocation
// counts the ring members of its contiguous segment, a workgroup prefix sum gives each
// segment its place, and a second pass writes the columns.
// Reference: core/src/ring/compact.rs (compact_reference).

@group(0) @binding(0) var<storage, read_write> sims: array<u32>;
@group(0) @binding(1) var<storage, read_write> bounds: array<u32>;
@group(0) @binding(2) var<storage, read_write> members: array<u32>;
@group(0) @binding(3) var<storage, read_write> params: RingParams;

var<workgroup> counts: array<u32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = workgroup_row(wg, groups);
    let row_in_range = row < params.rows;
    let cols = params.cols;
    let ring_len = ring_length();
    let segment = (cols + WORKGROUP - 1u) / WORKGROUP;
    let start = min(lid * segment, cols);
    let end = min(start + segment, cols);
    let base = row * cols;
    let b = row * BOUND_WORDS;

    var first_key = 0u;
    var first_col = 0u;
    var last_key = 0u;
    var last_col = 0u;
    var count = 0u;
    if row_in_range && ring_len > 0u {
        first_key = bounds[b + 0u];
        first_col = bounds[b + 1u];
        last_key = bounds[b + 2u];
        last_col = bounds[b + 3u];
        for (var col = start; col < end; col++) {
            if !is_excluded(row, col) && ring_contains(order_key(sims[base + col]), col, first_key, first_col, last_key, last_col, ring_len) {
                count += 1u;
            }
        }
    }
    counts[lid] = count;
    workgroupBarrier();

    // Inclusive Hillis-Steele scan over the 256 segment counts.
    for (var offset = 1u; offset < WORKGROUP; offset *= 2u) {
        var left = 0u;
        if lid >= offset {
            left = counts[lid - offset];
        }
        workgroupBarrier();
        counts[lid] += left;
        workgroupBarrier();
    }

    if row_in_range && ring_len > 0u {
        var slot = counts[lid] - count;
        let out = row * ring_len;
        for (var col = start; col < end && slot < ring_len; col++) {
            if !is_excluded(row, col) && ring_contains(order_key(sims[base + col]), col, first_key, first_col, last_key, last_col, ring_len) {
                members[out + slot] = col;
                slot += 1u;
            }
        }
    }
}
