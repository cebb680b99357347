use bytemuck::{Pod, Zeroable};

/// Parameters of one ring launch: the Rust mirror of `struct RingParams` in
/// `shaders/wgsl/common.wgsl` (a CPU test checks that both layouts agree).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct RingParams {
    /// B: rows (anchors).
    pub rows: u32,
    /// N: columns (candidates).
    pub cols: u32,
    /// First ring position.
    pub lo: u32,
    /// One past the last ring position.
    pub hi: u32,
    /// 0, or B for SimCLR pairing (rows == cols == 2B).
    pub pair_half: u32,
    /// Draws per row (sampler only).
    pub samples: u32,
    /// Sampler seed, low word.
    pub seed_lo: u32,
    /// Sampler seed, high word.
    pub seed_hi: u32,
}

impl RingParams {
    /// Field names in declaration order, as in the WGSL struct.
    pub const FIELDS: [&'static str; 8] = ["rows", "cols", "lo", "hi", "pair_half", "samples", "seed_lo", "seed_hi"];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The WGSL struct (parsed by naga from common.wgsl) and the Rust struct agree on
    /// field names, order, offsets and size.
    #[test]
    fn layout_matches_wgsl() {
        let size = std::mem::size_of::<RingParams>();
        crate::gpu::launch::assert_layout_matches(ring_wgpu_shaders::RING_SELECT, "RingParams", &RingParams::FIELDS, size);
        // Every field is a u32.
        let module = naga::front::wgsl::parse_str(&ring_wgpu_shaders::RING_SELECT.source()).unwrap();
        let (_, ty) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some("RingParams")).unwrap();
        let naga::TypeInner::Struct { members, .. } = &ty.inner else { panic!("not a struct") };
        for member in members {
            assert_eq!(module.types[member.ty].inner, naga::TypeInner::Scalar(naga::Scalar::U32));
        }
    }
}
