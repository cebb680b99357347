//! Every ring kernel against its plain-Rust reference, on the GPU (lavapipe in CI).
//! Results must be bit-identical: the kernels and references implement the same total
//! order (similarity descending, column ascending, -0 == +0, NaN last) and the same
//! counter-based random generator.

use crate::common::*;
use proptest::prelude::*;
use ring_wgpu_core::burn::tensor::Device;
use ring_wgpu_core::ring::{Pairing, RowRing, compact_reference, mask_reference, ring_select, sample_reference, select_reference};
use ring_wgpu_core::{InnerCut, RingError, RingSpec};

/// Kinds of similarity rows that stress different parts of the selection.
#[derive(Debug, Clone, Copy)]
enum Data {
    /// Uniform in [-1, 1).
    Uniform,
    /// Five levels only (and -0.0): ties everywhere.
    FewLevels,
    /// NaN, +-inf, +-0, subnormals mixed with ordinary values.
    Special,
    /// Every value equal.
    Constant,
    /// Increasing along the row.
    Sorted,
}

fn make(data: Data, rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed | 1);
    (0..rows * cols)
        .map(|i| match data {
            Data::Uniform => rng.unit(),
            Data::FewLevels => [-0.5, -0.0, 0.0, 0.25, 0.5][rng.below(5) as usize],
            Data::Special => match rng.below(10) {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                3 => -0.0,
                4 => 0.0,
                5 => f32::from_bits(1 + rng.below(1000) as u32),
                6 => -f32::from_bits(1 + rng.below(1000) as u32),
                _ => rng.unit(),
            },
            Data::Constant => 0.125,
            Data::Sorted => (i % cols) as f32 / cols as f32,
        })
        .collect()
}

/// Runs select, mask, compact and sample on `device` (the GPU, or the CPU backend) and
/// checks each against its reference.
fn check_all_forms(device: &Device, sims: &[f32], rows: usize, cols: usize, spec: &RingSpec, pairing: Pairing, seed: u64) {
    let bounds = ring_select(upload_on(device, sims, rows, cols), spec, pairing).unwrap();
    let window = bounds.window();
    let got = pollster::block_on(bounds.read()).unwrap();
    let want = select_reference(sims, rows, cols, spec, pairing).unwrap();
    assert_eq!(got.len(), rows);
    for (row, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(g.same_bits(w), "row {row} of {rows}x{cols} {spec:?} {pairing:?}: gpu {g:?}, reference {w:?}");
    }

    let mask = read_f32(bounds.mask());
    let want_mask = mask_reference(sims, rows, cols, &want, pairing);
    assert_eq!(mask, want_mask, "mask of {rows}x{cols} {spec:?}");
    // Exactly hi - lo members per row: the order is total.
    for row in 0..rows {
        let count = mask[row * cols..(row + 1) * cols].iter().filter(|&&m| m == 1.0).count();
        assert_eq!(count, window.len(), "row {row}: ring size");
    }

    if window.is_empty() {
        assert!(matches!(bounds.members(), Err(RingError::EmptyRing { .. })));
        assert!(matches!(bounds.sample(4, seed), Err(RingError::EmptyRing { .. })));
        return;
    }
    let members = read_u32(bounds.members().unwrap());
    let want_members = compact_reference(sims, rows, cols, &want, pairing);
    assert_eq!(members, want_members, "members of {rows}x{cols} {spec:?}");

    let samples = 1 + (seed % 37) as usize;
    let drawn = read_u32(bounds.sample(samples, seed).unwrap());
    assert_eq!(drawn, sample_reference(&want_members, rows, window.len(), samples, seed));
}

fn spec_strategy() -> impl Strategy<Value = RingSpec> {
    prop_oneof![
        Just(RingSpec::paper()),
        Just(RingSpec::plain_nce()),
        (0.0f64..99.0, 0.0f64..1.0).prop_map(|(l, t)| RingSpec::new(l, l + (100.0 - l) * t.max(1e-3)).unwrap()),
        (0.1f64..100.0, 0.0f64..0.99).prop_map(|(u, f)| RingSpec::with_inner(u, InnerCut::FractionOfOuter(f)).unwrap()),
    ]
}

fn data_strategy() -> impl Strategy<Value = Data> {
    prop_oneof![
        3 => Just(Data::Uniform),
        2 => Just(Data::FewLevels),
        2 => Just(Data::Special),
        1 => Just(Data::Constant),
        1 => Just(Data::Sorted),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random shapes (N from 1 to 3000, not multiples of 256), data kinds and rings.
    #[test]
    fn kernels_match_references_on_random_inputs(
        rows in 1usize..6,
        cols in 1usize..3000,
        data in data_strategy(),
        spec in spec_strategy(),
        seed in any::<u64>(),
    ) {
        let Some(gpu) = gpu() else { return Ok(()) };
        let sims = make(data, rows, cols, seed);
        check_all_forms(gpu.burn_device(), &sims, rows, cols, &spec, Pairing::None, seed);
    }

    /// SimCLR pairing: 2B x 2B, self and positive excluded from every row's pool.
    #[test]
    fn simclr_pairing_matches_reference(
        half in 1usize..40,
        data in data_strategy(),
        spec in spec_strategy(),
        seed in any::<u64>(),
    ) {
        let Some(gpu) = gpu() else { return Ok(()) };
        let n = 2 * half;
        let sims = make(data, n, n, seed);
        check_all_forms(gpu.burn_device(), &sims, n, n, &spec, Pairing::SimClr, seed);
    }
}

#[test]
fn large_rows_up_to_70000_candidates() {
    let Some(gpu) = gpu() else { return };
    for (cols, data) in [(65_536, Data::Uniform), (70_000, Data::FewLevels), (69_999, Data::Special)] {
        let sims = make(data, 2, cols, cols as u64);
        check_all_forms(gpu.burn_device(), &sims, 2, cols, &RingSpec::paper(), Pairing::None, 11);
    }
}

#[test]
fn one_candidate_and_rings_of_one() {
    let Some(gpu) = gpu() else { return };
    // N = 1, plain NCE: the ring is that one candidate.
    check_all_forms(gpu.burn_device(), &[0.3], 1, 1, &RingSpec::plain_nce(), Pairing::None, 1);
    check_all_forms(gpu.burn_device(), &[f32::NAN, 0.0, -0.0], 3, 1, &RingSpec::plain_nce(), Pairing::None, 2);
    // A ring of exactly one element: positions [4, 5) of 100.
    let sims = make(Data::Uniform, 3, 100, 3);
    let spec = RingSpec::new(4.0, 5.0).unwrap();
    check_all_forms(gpu.burn_device(), &sims, 3, 100, &spec, Pairing::None, 3);
    let got = pollster::block_on(ring_select(upload(gpu, &sims, 3, 100), &spec, Pairing::None).unwrap().read()).unwrap();
    assert!(got.iter().all(|r| r.len == 1 && r.first == r.last));
}

#[test]
fn empty_ring_selects_nothing_and_sampling_says_why() {
    let Some(gpu) = gpu() else { return };
    // 5 candidates, u = 10%: floor(0.5) = 0 positions.
    let sims = make(Data::Uniform, 2, 5, 4);
    check_all_forms(gpu.burn_device(), &sims, 2, 5, &RingSpec::paper(), Pairing::None, 4);
    let bounds = ring_select(upload(gpu, &sims, 2, 5), &RingSpec::paper(), Pairing::None).unwrap();
    let err = bounds.sample(8, 1).unwrap_err().to_string();
    assert!(err.contains("ring is empty") && err.contains("raise u"), "{err}");
}

#[test]
fn ties_are_broken_by_column() {
    let Some(gpu) = gpu() else { return };
    // All equal: the ring is columns [lo, hi) in index order.
    let cols = 1000;
    let sims = vec![0.5f32; cols];
    let bounds = ring_select(upload(gpu, &sims, 1, cols), &RingSpec::paper(), Pairing::None).unwrap();
    let members = read_u32(bounds.members().unwrap());
    assert_eq!(members, (10..100).collect::<Vec<u32>>());
    // -0.0 and +0.0 tie.
    let sims = [0.0f32, -0.0, 0.0, -0.0, 1.0];
    let bounds = ring_select(upload(gpu, &sims, 1, 5), &RingSpec::new(20.0, 60.0).unwrap(), Pairing::None).unwrap();
    assert_eq!(read_u32(bounds.members().unwrap()), vec![0, 1]);
}

#[test]
fn nan_ranks_least_similar() {
    let Some(gpu) = gpu() else { return };
    let sims = [f32::NAN, 0.1, f32::NEG_INFINITY, 0.9, f32::NAN, 0.5];
    // Top half (u = 50): 0.9, 0.5, 0.1 — never a NaN.
    let bounds = ring_select(upload(gpu, &sims, 1, 6), &RingSpec::new(0.0, 50.0).unwrap(), Pairing::None).unwrap();
    assert_eq!(read_u32(bounds.members().unwrap()), vec![1, 3, 5]);
    // Bottom third: the two NaNs.
    let bounds = ring_select(upload(gpu, &sims, 1, 6), &RingSpec::new(66.7, 100.0).unwrap(), Pairing::None).unwrap();
    assert_eq!(read_u32(bounds.members().unwrap()), vec![0, 4]);
    let ring = pollster::block_on(bounds.read()).unwrap()[0];
    assert!(ring.upper_similarity.is_nan() && ring.lower_similarity.is_nan());
}

#[test]
fn plain_nce_masks_every_candidate() {
    let Some(gpu) = gpu() else { return };
    let sims = make(Data::Special, 4, 777, 9);
    let bounds = ring_select(upload(gpu, &sims, 4, 777), &RingSpec::plain_nce(), Pairing::None).unwrap();
    assert!(read_f32(bounds.mask()).iter().all(|&m| m == 1.0));
}

#[test]
fn many_rows_spill_into_a_second_dispatch_dimension() {
    let Some(gpu) = gpu() else { return };
    // 65,537 rows: more workgroups than one dispatch dimension holds.
    let rows = 65_537;
    let sims = make(Data::Uniform, rows, 3, 12);
    check_all_forms(gpu.burn_device(), &sims, rows, 3, &RingSpec::new(0.0, 67.0).unwrap(), Pairing::None, 12);
}

#[test]
fn samples_are_uniform_over_the_ring() {
    let Some(gpu) = gpu() else { return };
    let cols = 200;
    let sims = make(Data::Uniform, 1, cols, 21);
    // Ring of 10: positions [10, 20).
    let bounds = ring_select(upload(gpu, &sims, 1, cols), &RingSpec::new(5.0, 10.0).unwrap(), Pairing::None).unwrap();
    let members = read_u32(bounds.members().unwrap());
    assert_eq!(members.len(), 10);
    let draws = 20_000;
    let drawn = read_u32(bounds.sample(draws, 77).unwrap());
    let mut counts = std::collections::HashMap::new();
    for d in &drawn {
        assert!(members.contains(d), "draw {d} outside the ring");
        *counts.entry(*d).or_insert(0usize) += 1;
    }
    assert_eq!(counts.len(), 10);
    // Chi-square with 9 degrees of freedom; 27.9 is its 0.999 quantile.
    let expected = draws as f64 / 10.0;
    let chi2: f64 = counts.values().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    assert!(chi2 < 27.9, "chi-square {chi2}: {counts:?}");
    // Reproducible from the seed, different for another seed.
    assert_eq!(read_u32(bounds.sample(draws, 77).unwrap()), drawn);
    assert_ne!(read_u32(bounds.sample(draws, 78).unwrap()), drawn);
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let Some(gpu) = gpu() else { return };
    let sims = make(Data::Uniform, 3, 4, 1);
    let err = ring_select(upload(gpu, &sims, 3, 4), &RingSpec::paper(), Pairing::SimClr).unwrap_err();
    assert!(err.to_string().contains("SimCLR pairing needs a square"), "{err}");
    assert!(select_reference(&sims, 3, 5, &RingSpec::paper(), Pairing::None).is_err());
    let _: Vec<RowRing> = select_reference(&sims, 3, 4, &RingSpec::paper(), Pairing::None).unwrap();
}

/// On burn's CPU backend the same API runs the plain-Rust references: every form has the
/// shape, dtype and values of the GPU's, edge cases included.
#[test]
fn cpu_backend_gives_the_same_forms() {
    let cpu = Device::flex();
    let cases = [
        (3, 1000, Data::Uniform, RingSpec::paper(), Pairing::None),
        (2, 257, Data::FewLevels, RingSpec::new(20.0, 60.0).unwrap(), Pairing::None),
        (4, 300, Data::Special, RingSpec::plain_nce(), Pairing::None),
        (2, 5, Data::Uniform, RingSpec::paper(), Pairing::None),
        (1, 1, Data::Constant, RingSpec::plain_nce(), Pairing::None),
        (10, 10, Data::Sorted, RingSpec::new(10.0, 50.0).unwrap(), Pairing::SimClr),
    ];
    for (i, (rows, cols, data, spec, pairing)) in cases.into_iter().enumerate() {
        let sims = make(data, rows, cols, i as u64 + 1);
        check_all_forms(&cpu, &sims, rows, cols, &spec, pairing, i as u64);
    }
}
