// common.wgsl: prepended to every ring kernel (see shaders/src/lib.rs).
// Defines, once, the parameter block and the functions whose exact behaviour the
// plain-Rust references in core/src/ring/ mirror bit for bit.

// Parameters of one ring launch. Mirrored by `ring_wgpu_core::ring::RingParams`;
// a CPU test compares both layouts through naga.
struct RingParams {
    // B: rows of the similarity matrix (anchors).
    rows: u32,
    // N: candidates per row (columns).
    cols: u32,
    // First ring position (0-based) in the row's order, most similar first.
    lo: u32,
    // One past the last ring position. The ring is positions [lo, hi).
    hi: u32,
    // 0: every column is a candidate. Otherwise (SimCLR) rows == cols == 2 * pair_half,
    // and row i excludes itself and its positive (i + pair_half) mod (2 * pair_half).
    pair_half: u32,
    // k: negatives drawn per row by the sampler.
    samples: u32,
    // 64-bit seed of the sampler, low and high words.
    seed_lo: u32,
    seed_hi: u32,
}

const WORKGROUP: u32 = 256u;
const NAN_KEY: u32 = 0xffffffffu;

// Order key of a similarity (its f32 bits): ascending keys are descending similarities.
// -0.0 and +0.0 get the same key; every NaN gets NAN_KEY, after -inf (least similar).
// Ties between equal keys are broken by the column index, smaller first.
fn order_key(bits: u32) -> u32 {
    let magnitude = bits & 0x7fffffffu;
    if magnitude > 0x7f800000u {
        return NAN_KEY;
    }
    var b = bits;
    if magnitude == 0u {
        b = 0u;
    }
    var ascending = b | 0x80000000u;
    if (b & 0x80000000u) != 0u {
        ascending = ~b;
    }
    return ~ascending;
}

// The column that row `row` must leave out of its candidate pool besides itself, if any.
fn is_excluded(row: u32, col: u32) -> bool {
    let half = params.pair_half;
    if half == 0u {
        return false;
    }
    var partner = row + half;
    if row >= half {
        partner = row - half;
    }
    return col == row || col == partner;
}

// Row handled by a workgroup: 2-D dispatch so that more than 65535 rows fit.
fn workgroup_row(wg: vec3<u32>, groups: vec3<u32>) -> u32 {
    return wg.x + wg.y * groups.x;
}

// Per-row result of ring_select, 8 words per row.
const BOUND_WORDS: u32 = 8u;
// [0] order key of the first ring element   [1] its column
// [2] order key of the last ring element    [3] its column
// [4] f32 bits of the first (most similar) ring similarity
// [5] f32 bits of the last (least similar) ring similarity
// [6] ring length (hi - lo, or 0)           [7] pool size (candidates in the row)

// Lexicographic (key, column) order: is (ka, ca) <= (kb, cb)?
fn composite_le(ka: u32, ca: u32, kb: u32, cb: u32) -> bool {
    return ka < kb || (ka == kb && ca <= cb);
}

// PCG hash (O'Neill's RXS-M-XS output on one LCG step).
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// 32 random bits for (seed, row, draw, attempt): a counter-based generator, so every
// draw is independent of launch shape and reproducible on the CPU.
fn random_bits(row: u32, draw: u32, attempt: u32) -> u32 {
    var h = pcg_hash(attempt);
    h = pcg_hash(draw ^ h);
    h = pcg_hash(row ^ h);
    h = pcg_hash(params.seed_hi ^ h);
    return pcg_hash(params.seed_lo ^ h);
}

const MAX_ATTEMPTS: u32 = 64u;

// Uniform integer in [0, n) (n > 0) by rejection: exact, no modulo bias.
fn uniform_below(n: u32, row: u32, draw: u32) -> u32 {
    let threshold = (0u - n) % n;
    var bits = 0u;
    for (var attempt = 0u; attempt < MAX_ATTEMPTS; attempt++) {
        bits = random_bits(row, draw, attempt);
        if bits >= threshold {
            break;
        }
    }
    return bits % n;
}

// Is the candidate (key, col) inside the ring whose first and last elements are given?
// Inclusive at both ends in (key, column) order; an empty ring (length 0) holds nothing.
fn ring_contains(key: u32, col: u32, first_key: u32, first_col: u32, last_key: u32, last_col: u32, ring_len: u32) -> bool {
    return ring_len > 0u && composite_le(first_key, first_col, key, col) && composite_le(key, col, last_key, last_col);
}

// Ring length shared by every row: hi - lo, or 0 when hi <= lo.
fn ring_length() -> u32 {
    return select(0u, params.hi - params.lo, params.hi > params.lo);
}

// Candidates in a row's pool: every column, minus self and positive for SimCLR.
fn pool_size() -> u32 {
    return select(params.cols, params.cols - 2u, params.pair_half != 0u);
}
