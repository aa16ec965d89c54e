//! The targets of a staff send or a campaign checked against the template catalogue before
//! anything is queued: 1–5 channels, each once, each with a template of that channel that is
//! published (or the fixed version named).

use crate::model::{MessageChannel, Target};
use crate::templates;
use nhip_core::deps::Deps;
use nhip_ports::store::StoreError;

/// Why a request's targets cannot be queued. The texts are the ones staff read.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// None, or more than there are channels.
    #[error("Chọn 1 đến 5 kênh, mỗi kênh một mẫu.")]
    Count,
    /// The same channel twice.
    #[error("Mỗi kênh chỉ một lần.")]
    DuplicateChannel,
    /// The target at `index` names no template.
    #[error("Không có mẫu tin này.")]
    UnknownTemplate {
        /// Position in `targets`.
        index: usize,
    },
    /// The template at `index` belongs to another channel.
    #[error("Mẫu tin thuộc kênh khác.")]
    OtherChannel {
        /// Position in `targets`.
        index: usize,
    },
    /// The fixed version at `index` does not exist.
    #[error("Không có phiên bản này.")]
    UnknownVersion {
        /// Position in `targets`.
        index: usize,
    },
    /// The template at `index` has no published version.
    #[error("Mẫu tin chưa được phát hành.")]
    Unpublished {
        /// Position in `targets`.
        index: usize,
    },
    /// The catalogue could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TargetError {
    /// The request field at fault: `targets`, or `targets.<i>.template`.
    pub fn field(&self) -> String {
        match self {
            TargetError::UnknownTemplate { index }
            | TargetError::OtherChannel { index }
            | TargetError::UnknownVersion { index }
            | TargetError::Unpublished { index } => format!("targets.{index}.template"),
            TargetError::Count | TargetError::DuplicateChannel | TargetError::Store(_) => {
                "targets".into()
            }
        }
    }
}

/// Checks `targets` against the catalogue; the first problem found, in order.
pub async fn check(deps: &Deps, targets: &[Target]) -> Result<(), TargetError> {
    if targets.is_empty() || targets.len() > MessageChannel::ALL.len() {
        return Err(TargetError::Count);
    }
    for (index, target) in targets.iter().enumerate() {
        if targets[..index].iter().any(|t| t.channel == target.channel) {
            return Err(TargetError::DuplicateChannel);
        }
        let meta = templates::meta(deps, &target.template)
            .await?
            .ok_or(TargetError::UnknownTemplate { index })?;
        if meta.channel != target.channel {
            return Err(TargetError::OtherChannel { index });
        }
        match target.version {
            Some(number)
                if templates::version(deps, &target.template, number)
                    .await?
                    .is_none() =>
            {
                return Err(TargetError::UnknownVersion { index });
            }
            None if meta.published_version.is_none() => {
                return Err(TargetError::Unpublished { index });
            }
            _ => {}
        }
    }
    Ok(())
}
