use std::path::PathBuf;

use thiserror::Error;

/// What is wrong with a dataset on disk.
#[derive(Debug, Error)]
pub enum DatasetError {
    /// A file or folder the dataset needs is not there.
    #[error("{path}: not found. {hint}")]
    Missing {
        /// The path looked for.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// A file is shorter than its format says.
    #[error("{path}: truncated ({found} bytes, expected {expected}); delete it and download the dataset again")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes expected (or the record size it must be a multiple of).
        expected: String,
        /// Bytes found.
        found: u64,
    },
    /// A file's content does not fit its format.
    #[error("{path}: corrupt: {reason}; delete it and download the dataset again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file in an image folder is not a readable JPEG or PNG.
    #[error("{path}: not a readable image ({reason}); image folders may hold only JPEG and PNG files (remove or move it)")]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// The decoder's reason.
        reason: String,
    },
    /// A class folder without images.
    #[error("{path}: class folder has no images; remove it or add images")]
    EmptyClass {
        /// The class folder.
        path: PathBuf,
    },
    /// An image folder root without class folders.
    #[error("{path}: no class folders; an image folder dataset is laid out as root/<class>/<image>.jpg")]
    NoClasses {
        /// The root.
        path: PathBuf,
    },
    /// A file larger than any file of its kind (checked before it is read whole).
    #[error("{path}: more than {max_mib} MiB, larger than any {what}; is this the right file?")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it should be.
        what: String,
        /// The bound, in MiB.
        max_mib: u64,
    },
    /// A parameter out of range.
    #[error("{0}")]
    Invalid(String),
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl DatasetError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            return DatasetError::Missing { path, hint: "check the path".into() };
        }
        DatasetError::Io { path, source }
    }
}
