// ring_select.wgsl: the ring's two boundary elements of every row, by radix select.
//
// One workgroup per row. The row's order is (order_key ascending, column ascending):
// most similar first, NaN last, ties by column. The kernel finds the elements at
// positions lo (first in the ring) and hi - 1 (last in the ring) of that order without
// sorting: four 8-bit histogram rounds fix the order key, then up to four more fix the
// column among equal keys. Both targets share each round over the row.
// Reference: core/src/ring/select.rs (select_reference).

@group(0) @binding(0) var<storage, read_write> sims: array<u32>;
@group(0) @binding(1) var<storage, read_write> bounds: array<u32>;
@group(0) @binding(2) var<storage, read_write> params: RingParams;

// Two 256-bin histograms, one per target (0: position lo, 1: position hi - 1).
var<workgroup> histogram: array<atomic<u32>, 512>;
// Per target: bits decided so far, and the rank still sought among elements sharing them.
var<workgroup> prefix: array<u32, 2>;
var<workgroup> rank: array<u32, 2>;
// Per target: the order key, once the key rounds are done.
var<workgroup> found_key: array<u32, 2>;
var<workgroup> column_rounds: u32;

fn clear_histograms(lid: u32) {
    atomicStore(&histogram[lid], 0u);
    atomicStore(&histogram[lid + WORKGROUP], 0u);
}

// Thread `which` (0 or 1) walks its histogram and keeps the bin that holds the sought rank.
fn choose_bin(which: u32, shift: u32) {
    let wanted = rank[which];
    var below = 0u;
    for (var bin = 0u; bin < 256u; bin++) {
        let count = atomicLoad(&histogram[which * 256u + bin]);
        if wanted < below + count {
            prefix[which] = prefix[which] | (bin << shift);
            rank[which] = wanted - below;
            return;
        }
        below += count;
    }
}

// Mask of the bits above the current digit (already decided); none on the first round.
fn decided_mask(shift: u32) -> u32 {
    if shift >= 24u {
        return 0u;
    }
    return 0xffffffffu << (shift + 8u);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = workgroup_row(wg, groups);
    let row_in_range = row < params.rows;
    let cols = params.cols;
    let base = row * cols;
    let ring_len = ring_length();

    if lid < 2u {
        prefix[lid] = 0u;
        rank[lid] = select(params.lo, params.hi - 1u, lid == 1u);
    }

    // Passes 1-4: the order key, most significant byte first.
    for (var round = 0u; round < 4u; round++) {
        let shift = 24u - 8u * round;
        let decided = decided_mask(shift);
        clear_histograms(lid);
        workgroupBarrier();
        let p0 = prefix[0];
        let p1 = prefix[1];
        if row_in_range && ring_len > 0u {
            for (var col = lid; col < cols; col += WORKGROUP) {
                if is_excluded(row, col) {
                    continue;
                }
                let key = order_key(sims[base + col]);
                let digit = (key >> shift) & 0xffu;
                if (key & decided) == p0 {
                    atomicAdd(&histogram[digit], 1u);
                }
                if (key & decided) == p1 {
                    atomicAdd(&histogram[WORKGROUP + digit], 1u);
                }
            }
        }
        workgroupBarrier();
        if lid < 2u {
            choose_bin(lid, shift);
        }
        workgroupBarrier();
    }

    // The keys are fixed; the remaining rank orders equal keys by column.
    if lid < 2u {
        found_key[lid] = prefix[lid];
        prefix[lid] = 0u;
    }
    if lid == 0u {
        let column_bits = 32u - countLeadingZeros(max(cols, 2u) - 1u);
        column_rounds = (column_bits + 7u) / 8u;
    }
    let rounds = workgroupUniformLoad(&column_rounds);

    for (var round = 0u; round < rounds; round++) {
        let shift = 8u * (rounds - 1u - round);
        let decided = decided_mask(shift);
        clear_histograms(lid);
        workgroupBarrier();
        let k0 = found_key[0];
        let k1 = found_key[1];
        let p0 = prefix[0];
        let p1 = prefix[1];
        if row_in_range && ring_len > 0u {
            for (var col = lid; col < cols; col += WORKGROUP) {
                if is_excluded(row, col) {
                    continue;
                }
                let key = order_key(sims[base + col]);
                let digit = (col >> shift) & 0xffu;
                if key == k0 && (col & decided) == p0 {
                    atomicAdd(&histogram[digit], 1u);
                }
                if key == k1 && (col & decided) == p1 {
                    atomicAdd(&histogram[WORKGROUP + digit], 1u);
                }
            }
        }
        workgroupBarrier();
        if lid < 2u {
            choose_bin(lid, shift);
        }
        workgroupBarrier();
    }

    if row_in_range && lid == 0u {
        let out = row * BOUND_WORDS;
        if ring_len > 0u {
            bounds[out + 0u] = found_key[0];
            bounds[out + 1u] = prefix[0];
            bounds[out + 2u] = found_key[1];
            bounds[out + 3u] = prefix[1];
            bounds[out + 4u] = sims[base + prefix[0]];
            bounds[out + 5u] = sims[base + prefix[1]];
        } else {
            // An empty ring: first after last, so ring_contains never holds.
            bounds[out + 0u] = NAN_KEY;
            bounds[out + 1u] = 0xffffffffu;
            bounds[out + 2u] = 0u;
            bounds[out + 3u] = 0u;
            bounds[out + 4u] = 0x7fc00000u;
            bounds[out + 5u] = 0x7fc00000u;
        }
        bounds[out + 6u] = ring_len;
        bounds[out + 7u] = pool_size();
    }
}
