//! The shape of one convolution, shared by every algorithm and the plan.

/// Shape of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvGeometry {
    /// Output height.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Output width.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.pad - self.kernel) / self.stride + 1
    }

    /// Rows of an image's patch matrix (Cin k k).
    pub fn col_rows(&self) -> usize {
        self.cin * self.kernel * self.kernel
    }

    /// Columns of an image's patch matrix (OH OW).
    pub fn col_cols(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Values of one input image (Cin H W).
    pub fn input_len(&self) -> usize {
        self.cin * self.height * self.width
    }

    /// Values of one output image (Cout OH OW).
    pub fn output_len(&self) -> usize {
        self.cout * self.col_cols()
    }

    /// Is this a convolution these kernels compute (positive sizes, the kernel fits)?
    pub fn is_valid(&self) -> bool {
        self.batch > 0
            && self.cin > 0
            && self.cout > 0
            && self.kernel > 0
            && self.stride > 0
            && self.height + 2 * self.pad >= self.kernel
            && self.width + 2 * self.pad >= self.kernel
    }
}
