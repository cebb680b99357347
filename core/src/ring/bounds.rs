//! The result of ring_select (on the GPU, or on the host for CPU backends), and the
//! forms derived from it.

use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use super::{RingError, RingParams, RingWindow, compact_reference, mask_reference, sample_reference};
use crate::gpu::launch::{self, CubeTensor};

/// Which columns of a row are candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pairing {
    /// Every column (MoCo queue, IR memory bank).
    #[default]
    None,
    /// SimCLR batch: the 2B x 2B similarities of both views; row i leaves out itself and
    /// its positive, (i + B) mod 2B, so the pool has 2B - 2 candidates.
    SimClr,
}

impl Pairing {
    /// Candidates per row for `cols` columns.
    pub fn pool(self, cols: usize) -> usize {
        match self {
            Pairing::None => cols,
            Pairing::SimClr => cols.saturating_sub(2),
        }
    }

    /// Is `col` left out of row `row`'s pool? (`rows` = 2B for SimCLR.)
    pub fn excludes(self, rows: usize, row: usize, col: usize) -> bool {
        match self {
            Pairing::None => false,
            Pairing::SimClr => {
                let half = rows / 2;
                let partner = if row >= half { row - half } else { row + half };
                col == row || col == partner
            }
        }
    }
}

/// One row's ring, as read back (or computed by the reference).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowRing {
    /// Order key and column of the first (most similar) ring element.
    pub first: (u32, u32),
    /// Order key and column of the last (least similar) ring element.
    pub last: (u32, u32),
    /// Similarity of the first ring element (the upper similarity threshold).
    pub upper_similarity: f32,
    /// Similarity of the last ring element (the lower similarity threshold).
    pub lower_similarity: f32,
    /// Ring length (hi - lo).
    pub len: u32,
    /// Candidates in the row.
    pub pool: u32,
}

impl RowRing {
    pub(crate) const WORDS: usize = 8;

    /// The ring of a row whose window is empty.
    pub(crate) fn empty(pool: u32) -> Self {
        RowRing {
            first: (u32::MAX, u32::MAX),
            last: (0, 0),
            upper_similarity: f32::from_bits(0x7fc0_0000),
            lower_similarity: f32::from_bits(0x7fc0_0000),
            len: 0,
            pool,
        }
    }

    pub(crate) fn to_words(self) -> [u32; Self::WORDS] {
        [
            self.first.0,
            self.first.1,
            self.last.0,
            self.last.1,
            self.upper_similarity.to_bits(),
            self.lower_similarity.to_bits(),
            self.len,
            self.pool,
        ]
    }

    pub(crate) fn from_words(w: &[u32]) -> Self {
        RowRing {
            first: (w[0], w[1]),
            last: (w[2], w[3]),
            upper_similarity: f32::from_bits(w[4]),
            lower_similarity: f32::from_bits(w[5]),
            len: w[6],
            pool: w[7],
        }
    }

    /// Does the ring hold the candidate with order key `key` in column `col`?
    pub fn contains(&self, key: u32, col: u32) -> bool {
        let c = super::order::composite;
        self.len > 0 && c(self.first.0, self.first.1) <= c(key, col) && c(key, col) <= c(self.last.0, self.last.1)
    }

    /// Bitwise equality (NaN thresholds compare equal to themselves).
    pub fn same_bits(&self, other: &RowRing) -> bool {
        self.first == other.first
            && self.last == other.last
            && self.upper_similarity.to_bits() == other.upper_similarity.to_bits()
            && self.lower_similarity.to_bits() == other.lower_similarity.to_bits()
            && self.len == other.len
            && self.pool == other.pool
    }
}

/// Where the rings were computed.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // the GPU case is the common one; keep it unboxed
pub(crate) enum BoundsStorage {
    /// On the wgpu device by ring_select: the similarities and the B x 8 bound words.
    Gpu { sims: CubeTensor, bounds: CubeTensor },
    /// On the host by the plain-Rust references, for tensors on a CPU backend: the
    /// similarities and each row's ring; derived forms go back to `device`.
    Host { sims: Vec<f32>, rings: Vec<RowRing>, device: Device },
}

/// Every row's ring (from [`super::ring_select`]). Derive the MoCoRing mask, the
/// compacted member lists or IRing samples from it; read it back with
/// [`RingBounds::read`]. On the GPU each form is a kernel; for tensors on a CPU backend
/// the same forms come from the plain-Rust references (bit-identical by the tests).
#[derive(Debug, Clone)]
pub struct RingBounds {
    pub(crate) storage: BoundsStorage,
    pub(crate) params: RingParams,
    pub(crate) pairing: Pairing,
}

/// A rows x cols integer tensor on `device` from host values (the CPU backend's forms).
fn host_tensor(values: Vec<u32>, rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    let values: Vec<i32> = values.into_iter().map(|v| v as i32).collect();
    Tensor::<2, Int>::from_data(TensorData::new(values, [rows, cols]), device)
}

impl RingBounds {
    /// The ring positions shared by every row.
    pub fn window(&self) -> RingWindow {
        RingWindow {
            lo: self.params.lo as usize,
            hi: self.params.hi.max(self.params.lo) as usize,
            pool: self.pairing.pool(self.params.cols as usize),
        }
    }

    /// Rows (anchors).
    pub fn rows(&self) -> usize {
        self.params.rows as usize
    }

    /// Columns (candidates, including excluded ones).
    pub fn cols(&self) -> usize {
        self.params.cols as usize
    }

    /// The candidate pairing.
    pub fn pairing(&self) -> Pairing {
        self.pairing
    }

    /// The raw B x 8 bound words (see `shaders/wgsl/common.wgsl`).
    pub fn words(&self) -> Tensor<2, Int> {
        match &self.storage {
            BoundsStorage::Gpu { bounds, .. } => launch::int_tensor(bounds.clone()),
            BoundsStorage::Host { rings, device, .. } => {
                let words = rings.iter().flat_map(|r| r.to_words()).collect();
                host_tensor(words, rings.len(), RowRing::WORDS, device)
            }
        }
    }

    /// MoCoRing / SimCLR-Ring form: B x N, 1.0 where the candidate is in the row's ring,
    /// else 0.0 (excluded columns are 0.0).
    pub fn mask(&self) -> Tensor<2> {
        let rows = self.rows();
        let cols = self.cols();
        let (sims, bounds) = match &self.storage {
            BoundsStorage::Gpu { sims, bounds } => (sims, bounds),
            BoundsStorage::Host { sims, rings, device } => {
                let mask = mask_reference(sims, rows, cols, rings, self.pairing);
                return Tensor::<2>::from_data(TensorData::new(mask, [rows, cols]), device);
            }
        };
        let mask = launch::empty(sims, [rows, cols], DType::F32);
        let params = launch::upload(sims, &self.params);
        let groups = (rows * cols).div_ceil(ring_wgpu_shaders::RING_MASK.workgroup_size as usize);
        launch::launch(
            sims,
            ring_wgpu_shaders::RING_MASK,
            groups as u32,
            vec![sims.handle.clone(), bounds.handle.clone(), mask.handle.clone(), params],
        );
        launch::float_tensor(mask)
    }

    /// Compacted form: B x ring_len columns of each row's ring, increasing within a row.
    pub fn members(&self) -> Result<Tensor<2, Int>, RingError> {
        self.nonempty_window()?;
        match &self.storage {
            BoundsStorage::Gpu { sims, bounds } => Ok(launch::int_tensor(self.members_storage(sims, bounds))),
            BoundsStorage::Host { sims, rings, device } => {
                Ok(host_tensor(self.host_members(sims, rings), self.rows(), self.window().len(), device))
            }
        }
    }

    fn nonempty_window(&self) -> Result<RingWindow, RingError> {
        let window = self.window();
        if window.is_empty() {
            return Err(RingError::EmptyRing { pool: window.pool, lo: window.lo, hi: window.hi });
        }
        Ok(window)
    }

    fn members_storage(&self, sims: &CubeTensor, bounds: &CubeTensor) -> CubeTensor {
        let rows = self.rows();
        let members = launch::empty(sims, [rows, self.window().len()], DType::I32);
        let params = launch::upload(sims, &self.params);
        launch::launch(
            sims,
            ring_wgpu_shaders::RING_COMPACT,
            rows as u32,
            vec![sims.handle.clone(), bounds.handle.clone(), members.handle.clone(), params],
        );
        members
    }

    fn host_members(&self, sims: &[f32], rings: &[RowRing]) -> Vec<u32> {
        compact_reference(sims, self.rows(), self.cols(), rings, self.pairing)
    }

    /// IRing form: B x `samples` columns drawn uniformly with replacement from each row's
    /// ring, reproducible from `seed` (independent of the GPU and launch shape).
    pub fn sample(&self, samples: usize, seed: u64) -> Result<Tensor<2, Int>, RingError> {
        if samples == 0 {
            return Err(RingError::Shape("ask for at least one sample per row".into()));
        }
        let rows = self.rows();
        let total = rows
            .checked_mul(samples)
            .filter(|&t| t <= u32::MAX as usize)
            .ok_or_else(|| RingError::TooLarge(format!("{rows} rows x {samples} samples exceeds 2^32 draws")))?;
        let window = self.nonempty_window()?;
        let (sims, bounds) = match &self.storage {
            BoundsStorage::Gpu { sims, bounds } => (sims, bounds),
            BoundsStorage::Host { sims, rings, device } => {
                let drawn = sample_reference(&self.host_members(sims, rings), rows, window.len(), samples, seed);
                return Ok(host_tensor(drawn, rows, samples, device));
            }
        };
        let members = self.members_storage(sims, bounds);
        let drawn = launch::empty(sims, [rows, samples], DType::I32);
        let params = RingParams { samples: samples as u32, seed_lo: seed as u32, seed_hi: (seed >> 32) as u32, ..self.params };
        let params = launch::upload(sims, &params);
        let groups = total.div_ceil(ring_wgpu_shaders::RING_SAMPLE.workgroup_size as usize);
        launch::launch(sims, ring_wgpu_shaders::RING_SAMPLE, groups as u32, vec![members.handle.clone(), drawn.handle.clone(), params]);
        Ok(launch::int_tensor(drawn))
    }

    /// Reads every row's ring back to the host (async: never blocks a browser).
    pub async fn read(&self) -> Result<Vec<RowRing>, RingError> {
        if let BoundsStorage::Host { rings, .. } = &self.storage {
            return Ok(rings.clone());
        }
        let words: Vec<u32> = crate::gpu::read::read_i64(self.words()).await?.into_iter().map(|w| w as u32).collect();
        Ok(words.chunks_exact(RowRing::WORDS).map(RowRing::from_words).collect())
    }
}
