//! The Zalo Official Account's token pair, kept by Nhịp itself so ZNS keeps sending after the
//! access token's 25 hours.
//!
//! # The stored pair
//! One item, `SYS#zalo-oa` / `TOKENS`: the access and refresh tokens sealed together with
//! AES-256-GCM (a key derived from `NHIP_CREDENTIALS_KEY`, so a reader of the table alone
//! learns nothing), their expiry times in the clear, and an optimistic-concurrency `version`.
//! Every change writes the whole item on condition that `version` is the one read.
//!
//! # One refresh, however many senders
//! A refresh token can be spent once. A sender that finds the access token about to expire
//! (or rejected by Zalo) first takes the *lease*: it writes the item with `lease_until` 45 s
//! ahead (longer than the 10 s the token request may take) on condition of the version it
//! read. One sender wins that write; it spends the refresh token and writes the new pair with
//! the lease cleared. The others see the lease, wait, and read the pair the winner wrote. A
//! lease left by a sender that died ends by itself after its 45 s.
//!
//! # When refreshing fails
//! The failure is written on the item (`failures`, `last_error`) for the console and the
//! scheduler's metrics. A refresh token Zalo refuses is marked `revoked`: nobody spends it
//! again, and an admin installs a new pair (by hand, or through Zalo's authorization-code flow
//! on the console's Zalo page). An access token not yet expired is still used meanwhile.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use nhip_core::records;
use nhip_ports::Clock;
use nhip_ports::store::{Condition, ItemStore, Key, StoreError};
use nhip_ports::zalo::{AccessTokens, IssuedTokens, OAuthError, TokenError, ZaloOAuth};

/// Kind attribute of the stored pair.
pub const KIND: &str = "zalo_oa_tokens";
/// Shortest `NHIP_CREDENTIALS_KEY` accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
/// A sender refreshes when the access token has less than this left.
pub const SEND_AHEAD: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// The scheduler refreshes when the access token has less than this left, so senders rarely
/// have to.
pub const MAINTAIN_AHEAD: chrono::TimeDelta = chrono::TimeDelta::hours(3);
/// How long a refresh token lasts from its issue (Zalo: three months).
pub const REFRESH_TOKEN_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(90);
/// The refresh token counts as nearing its end with less than this left (the alarm's mark).
pub const REFRESH_TOKEN_WARNING: chrono::TimeDelta = chrono::TimeDelta::days(10);
/// How long the sender refreshing holds the pair.
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(45);
/// How often a waiting sender reads the pair again.
const WAIT_STEP: Duration = Duration::from_millis(150);
/// How long a sender waits for another's refresh before giving up (the message is retried):
/// with the 10 s the refresh itself may take, within a 30 s sender invocation.
const WAIT_LIMIT: Duration = Duration::from_secs(12);
/// A token Zalo refuses within this of its refresh is not refreshed again by a sender: Zalo
/// is refusing fresh tokens, and each refresh would spend one more refresh token.
const REFUSED_SOON_AFTER_REFRESH: chrono::TimeDelta = chrono::TimeDelta::minutes(1);
/// How often the scheduler tries a refresh token Zalo refused again (the app secret key may
/// have been wrong, and been put right since).
const REVOKED_RETRY: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// Times an install reads and writes again when the pair changed under it.
const INSTALL_ATTEMPTS: usize = 5;
/// Associated data of the seal: the pair's purpose and format.
const SEAL_CONTEXT: &[u8] = b"nhip:zalo-oa-token-pair:v1";

/// The stored pair's key.
pub fn key() -> Key {
    Key::new("SYS#zalo-oa", "TOKENS")
}

/// The key the pair is sealed with, derived from `NHIP_CREDENTIALS_KEY`.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

impl SealKey {
    /// The sealing key derived from `secret` (at least [`MIN_KEY_BYTES`]); `None` if shorter.
    pub fn derive(secret: &[u8]) -> Option<Self> {
        if secret.len() < MIN_KEY_BYTES {
            return None;
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
        mac.update(b"nhip zalo-oa token pair sealing key");
        Some(Self(mac.finalize().into_bytes().into()))
    }

    fn seal(&self, plain: &[u8]) -> Result<String, StoreError> {
        self.seal_with(draw_nonce()?, plain)
    }

    /// Seals with a nonce drawn beforehand (before a refresh token is spent, so nothing can
    /// fail between Zalo's answer and the write).
    fn seal_with(&self, nonce: [u8; 12], plain: &[u8]) -> Result<String, StoreError> {
        let cipher = Aes256Gcm::new_from_slice(&self.0).expect("a 32-byte key");
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: SEAL_CONTEXT,
                },
            )
            .map_err(|_| StoreError::invalid("sealing the token pair failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(B64.encode(out))
    }

    fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = B64.decode(sealed).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, body) = bytes.split_at(12);
        Aes256Gcm::new_from_slice(&self.0)
            .ok()?
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: SEAL_CONTEXT,
                },
            )
            .ok()
    }
}

/// A fresh 96-bit nonce.
fn draw_nonce() -> Result<[u8; 12], StoreError> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| StoreError::invalid(format!("no randomness: {e}")))?;
    Ok(nonce)
}

/// The sealed part.
#[derive(Serialize, Deserialize)]
struct Pair {
    access_token: String,
    refresh_token: String,
}

/// The stored item's attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    version: u64,
    sealed: String,
    access_expires_at: DateTime<Utc>,
    refresh_expires_at: DateTime<Utc>,
    installed_at: DateTime<Utc>,
    installed_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refreshed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    refreshes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_owner: Option<String>,
    #[serde(default)]
    failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error_at: Option<DateTime<Utc>>,
    #[serde(default)]
    revoked: bool,
}

impl Stored {
    /// Whether someone holds the lease now: another process, or another task of this one
    /// (the holder never reads the pair again before it writes the new one).
    fn leased(&self, now: DateTime<Utc>) -> bool {
        self.lease_until.is_some_and(|until| until > now)
    }
}

/// What the console and the scheduler show of the pair (never the tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenStatus {
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// When the refresh token expires (three months after it was issued).
    pub refresh_expires_at: DateTime<Utc>,
    /// When an admin installed the pair the current one descends from, and who.
    pub installed_at: DateTime<Utc>,
    /// Who installed it.
    pub installed_by: String,
    /// The last successful refresh.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Refreshes since the pair was installed.
    pub refreshes: u64,
    /// Refreshes failed in a row.
    pub failures: u32,
    /// The last failure's reason and time.
    pub last_error: Option<String>,
    /// When it failed.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Zalo refused the refresh token: a new pair must be installed.
    pub revoked: bool,
}

impl From<&Stored> for TokenStatus {
    fn from(stored: &Stored) -> Self {
        Self {
            access_expires_at: stored.access_expires_at,
            refresh_expires_at: stored.refresh_expires_at,
            installed_at: stored.installed_at,
            installed_by: stored.installed_by.clone(),
            refreshed_at: stored.refreshed_at,
            refreshes: stored.refreshes,
            failures: stored.failures,
            last_error: stored.last_error.clone(),
            last_error_at: stored.last_error_at,
            revoked: stored.revoked,
        }
    }
}

/// Why an admin's pair was not installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The pair is malformed; nothing was stored.
    #[error("{0}")]
    Invalid(String),
    /// `NHIP_CREDENTIALS_KEY` is not set, so the pair cannot be sealed.
    #[error("the pair cannot be sealed: NHIP_CREDENTIALS_KEY is not set")]
    NoKey,
    /// The store failed; nothing was stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The keeper of the pair: what the ZNS channel asks for a token, the console installs a pair
/// through, and the scheduler refreshes ahead with. One per process; cheap to share.
pub struct ZaloTokens {
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    oauth: Option<Arc<dyn ZaloOAuth>>,
    key: Option<SealKey>,
    owner: String,
    cached: Mutex<Option<(String, DateTime<Utc>)>>,
    /// One refresh at a time in this process: the others wait here, then read what it wrote.
    flight: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ZaloTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZaloTokens")
            .field("owner", &self.owner)
            .field("oauth", &self.oauth.is_some())
            .field("key", &self.key.is_some())
            .finish()
    }
}

/// What a sender needs of the pair.
#[derive(Clone, Copy)]
enum Want<'a> {
    /// A token with more than `ahead` left.
    Fresh(chrono::TimeDelta),
    /// A token other than the one Zalo rejected.
    Not(&'a str),
}

impl ZaloTokens {
    /// The keeper over `store`, refreshing through `oauth` (none: the pair is only read) and
    /// sealing with `key` (none: nothing can be read or installed).
    pub fn new(
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        oauth: Option<Arc<dyn ZaloOAuth>>,
        key: Option<SealKey>,
    ) -> Self {
        Self {
            store,
            clock,
            oauth,
            key,
            owner: ulid::Ulid::new().to_string(),
            cached: Mutex::new(None),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    /// The keeper over `deps`' table, clock and Zalo OAuth endpoint, sealing with
    /// `NHIP_CREDENTIALS_KEY`.
    pub fn from_deps(deps: &nhip_core::Deps) -> Self {
        Self::new(
            deps.store.clone(),
            deps.clock.clone(),
            deps.zalo_oauth.clone(),
            deps.settings
                .messaging
                .credentials_key
                .as_deref()
                .and_then(SealKey::derive),
        )
    }

    /// Whether tokens can be refreshed here (an app secret key is configured).
    pub fn can_refresh(&self) -> bool {
        self.oauth.is_some()
    }

    /// The stored pair's status, `None` while none is installed.
    pub async fn status(&self) -> Result<Option<TokenStatus>, StoreError> {
        Ok(self.load().await?.as_ref().map(TokenStatus::from))
    }

    /// Stores a pair an admin gives (or Zalo issued for an authorization code), replacing any
    /// other; the refresh token counts as issued now.
    pub async fn install(
        &self,
        tokens: &IssuedTokens,
        by: &str,
    ) -> Result<TokenStatus, InstallError> {
        let key = self.key.as_ref().ok_or(InstallError::NoKey)?;
        check_token("access token", &tokens.access_token)?;
        check_token("refresh token", &tokens.refresh_token)?;
        if tokens.expires_in.is_zero() || tokens.expires_in > Duration::from_secs(90 * 86_400) {
            return Err(InstallError::Invalid(
                "the access token's lifetime must be between 1 second and 90 days".into(),
            ));
        }
        let now = self.clock.now();
        let sealed = key.seal(
            &serde_json::to_vec(&Pair {
                access_token: tokens.access_token.clone(),
                refresh_token: tokens.refresh_token.clone(),
            })
            .map_err(|e| StoreError::invalid(e.to_string()))?,
        )?;
        // An admin's pair replaces whatever is stored, a refresh in flight included (its
        // write then fails its condition); only a store that keeps changing stops it.
        for _ in 0..INSTALL_ATTEMPTS {
            let current = self.load().await?;
            let version = current.as_ref().map_or(0, |stored| stored.version);
            let stored = Stored {
                version: version + 1,
                sealed: sealed.clone(),
                access_expires_at: now + lifetime(tokens.expires_in),
                refresh_expires_at: now + REFRESH_TOKEN_LIFETIME,
                installed_at: now,
                installed_by: by.to_owned(),
                refreshed_at: None,
                refreshes: 0,
                lease_until: None,
                lease_owner: None,
                failures: 0,
                last_error: None,
                last_error_at: None,
                revoked: false,
            };
            match self.write(&stored, version).await {
                Ok(()) => {
                    *self.cached.lock().expect("the cache lock") = None;
                    return Ok(TokenStatus::from(&stored));
                }
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(InstallError::Store(StoreError::ConditionFailed {
            op: None,
        }))
    }

    /// Refreshes the pair when its access token has less than [`MAINTAIN_AHEAD`] left, so
    /// senders seldom have to; tries again after a failed refresh (a refresh token Zalo
    /// refused, once an hour). The scheduler calls this every tick. `Ok(None)` while no pair
    /// is installed; the status after any refresh otherwise.
    pub async fn maintain(&self) -> Result<Option<TokenStatus>, TokenError> {
        let Some(stored) = self.load().await.map_err(unavailable)? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let retry_revoked = stored.revoked
            && stored
                .last_error_at
                .is_none_or(|at| at + REVOKED_RETRY <= now);
        let expiring = !self.wanted(&stored, Want::Fresh(MAINTAIN_AHEAD));
        let failing = stored.failures > 0;
        let current = self.open(&stored).map(|pair| pair.access_token);
        let want = match &current {
            Some(token) if !expiring => Want::Not(token),
            _ => Want::Fresh(MAINTAIN_AHEAD),
        };
        let due = self.oauth.is_some()
            && (if stored.revoked {
                retry_revoked
            } else {
                expiring || failing
            });
        if due && let Err(error) = self.refresh(want, retry_revoked).await {
            tracing::warn!(%error, "the scheduler's refresh of the Zalo OA token failed");
        }
        Ok(self
            .load()
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(TokenStatus::from))
    }

    fn wanted(&self, stored: &Stored, want: Want<'_>) -> bool {
        let now = self.clock.now();
        match want {
            Want::Fresh(ahead) => stored.access_expires_at - ahead > now,
            Want::Not(rejected) => {
                stored.access_expires_at > now
                    && self
                        .open(stored)
                        .is_some_and(|pair| pair.access_token != rejected)
            }
        }
    }

    /// A token meeting `want`, refreshing `stored` if need be and nobody else is.
    async fn token(&self, want: Want<'_>) -> Result<String, TokenError> {
        let stored = self
            .load()
            .await
            .map_err(unavailable)?
            .ok_or(TokenError::NotInstalled)?;
        if self.wanted(&stored, want) {
            return self.hand_out(&stored);
        }
        let now = self.clock.now();
        if let Want::Not(rejected) = want
            && stored
                .refreshed_at
                .is_some_and(|at| at + REFUSED_SOON_AFTER_REFRESH > now)
            && self
                .open(&stored)
                .is_some_and(|pair| pair.access_token == rejected)
        {
            return Err(TokenError::Unavailable(
                "Zalo refused a token refreshed less than a minute ago; not refreshing again yet"
                    .into(),
            ));
        }
        let still_valid = stored.access_expires_at > now && matches!(want, Want::Fresh(_));
        match self.refresh(want, false).await {
            Ok(token) => Ok(token),
            // Refreshing failed, but the token has not expired yet: use it meanwhile.
            Err(error) if still_valid => {
                tracing::warn!(%error, "refreshing the Zalo OA token failed; the current one is still valid");
                self.hand_out(&stored)
            }
            Err(error) => Err(error),
        }
    }

    /// The access token of `stored`, remembered for the next sends.
    fn hand_out(&self, stored: &Stored) -> Result<String, TokenError> {
        let pair = self.open(stored).ok_or_else(|| {
            TokenError::Unavailable(
                "the stored pair does not open with NHIP_CREDENTIALS_KEY".into(),
            )
        })?;
        *self.cached.lock().expect("the cache lock") =
            Some((pair.access_token.clone(), stored.access_expires_at));
        Ok(pair.access_token)
    }

    /// Takes the lease on the pair, spends its refresh token and writes the new pair; or waits
    /// for whoever holds the lease and reads what they wrote. A refresh token Zalo refused is
    /// spent again only when `retry_revoked`.
    async fn refresh(&self, want: Want<'_>, retry_revoked: bool) -> Result<String, TokenError> {
        let oauth = self.oauth.clone().ok_or_else(|| {
            TokenError::Unavailable(
                "refreshing needs the Zalo app's secret key (NHIP_ZALO_APP_SECRET)".into(),
            )
        })?;
        let key = self
            .key
            .clone()
            .ok_or_else(|| TokenError::Unavailable("NHIP_CREDENTIALS_KEY is not set".into()))?;
        let _flight = self.flight.lock().await;
        let started = tokio::time::Instant::now();
        let mut stored = self
            .load()
            .await
            .map_err(unavailable)?
            .ok_or(TokenError::NotInstalled)?;
        let mut waited_for_another = false;
        let leased = loop {
            let now = self.clock.now();
            if self.wanted(&stored, want) {
                return self.hand_out(&stored);
            }
            if stored.revoked && !retry_revoked {
                return Err(TokenError::Revoked(
                    stored.last_error.clone().unwrap_or_default(),
                ));
            }
            if stored.leased(now) {
                waited_for_another = true;
            } else if waited_for_another {
                // The sender that refreshed failed: its error stands for this one too, rather
                // than every waiting sender trying again in turn.
                return Err(TokenError::Unavailable(
                    stored
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "another sender's refresh did not finish".into()),
                ));
            } else {
                let read = stored.version;
                let mut leased = stored.clone();
                leased.version = read + 1;
                leased.lease_until = Some(now + LEASE);
                leased.lease_owner = Some(self.owner.clone());
                match self.write(&leased, read).await {
                    Ok(()) => break leased,
                    Err(StoreError::ConditionFailed { .. }) => {}
                    Err(error) => return Err(unavailable(error)),
                }
            }
            if started.elapsed() > WAIT_LIMIT {
                return Err(TokenError::Unavailable(
                    "another sender has been refreshing the Zalo OA token for too long".into(),
                ));
            }
            if waited_for_another {
                tokio::time::sleep(WAIT_STEP).await;
            }
            stored = self
                .load()
                .await
                .map_err(unavailable)?
                .ok_or(TokenError::NotInstalled)?;
        };
        let pair = self.open(&leased).ok_or_else(|| {
            TokenError::Unavailable(
                "the stored pair does not open with NHIP_CREDENTIALS_KEY".into(),
            )
        })?;
        let nonce = draw_nonce().map_err(unavailable)?;
        let outcome = oauth.refresh(&pair.refresh_token).await;
        let now = self.clock.now();
        let mut next = leased.clone();
        next.version = leased.version + 1;
        next.lease_until = None;
        next.lease_owner = None;
        let result = match outcome {
            Ok(issued) => {
                let plain = serde_json::json!({
                    "access_token": issued.access_token,
                    "refresh_token": issued.refresh_token,
                })
                .to_string();
                // Nothing here can fail but the cipher itself (on inputs beyond 64 GiB).
                next.sealed = key
                    .seal_with(nonce, plain.as_bytes())
                    .expect("sealing a token pair");
                next.access_expires_at = now + lifetime(issued.expires_in);
                next.refresh_expires_at = now + REFRESH_TOKEN_LIFETIME;
                next.refreshed_at = Some(now);
                next.refreshes += 1;
                next.failures = 0;
                next.last_error = None;
                next.last_error_at = None;
                next.revoked = false;
                tracing::info!(expires_at = %next.access_expires_at, "refreshed the Zalo OA token");
                Ok(issued.access_token)
            }
            Err(error) => {
                next.failures += 1;
                next.last_error = Some(error.to_string());
                next.last_error_at = Some(now);
                next.revoked = matches!(error, OAuthError::Refused(_));
                tracing::error!(%error, failures = next.failures, "refreshing the Zalo OA token failed");
                Err(match error {
                    OAuthError::Refused(reason) => TokenError::Revoked(reason),
                    other => TokenError::Unavailable(other.to_string()),
                })
            }
        };
        self.write_held(&next, leased.version).await;
        if let Ok(token) = &result {
            *self.cached.lock().expect("the cache lock") =
                Some((token.clone(), next.access_expires_at));
        }
        result
    }

    /// Writes what the lease holder ends with (a new pair, or the failure), over the version
    /// its lease wrote. A new pair must not be lost, its refresh token being the only one
    /// left: a failed write is tried again, and one that lost its condition is logged.
    async fn write_held(&self, next: &Stored, leased_version: u64) {
        let mut attempts = 0;
        loop {
            match self.write(next, leased_version).await {
                Ok(()) => return,
                Err(StoreError::ConditionFailed { .. }) => {
                    tracing::error!(
                        "the Zalo OA token pair changed while this sender held the lease; the pair it refreshed is dropped"
                    );
                    return;
                }
                Err(error) if attempts < 3 => {
                    attempts += 1;
                    tracing::warn!(%error, attempts, "writing the refreshed Zalo OA token pair failed; trying again");
                    tokio::time::sleep(Duration::from_millis(100 * attempts)).await;
                }
                Err(error) => {
                    tracing::error!(%error, "the refreshed Zalo OA token pair could not be stored");
                    return;
                }
            }
        }
    }

    fn open(&self, stored: &Stored) -> Option<Pair> {
        let plain = self.key.as_ref()?.open(&stored.sealed)?;
        serde_json::from_slice(&plain).ok()
    }

    async fn load(&self) -> Result<Option<Stored>, StoreError> {
        records::get(self.store.as_ref(), &key(), KIND).await
    }

    async fn write(&self, stored: &Stored, read_version: u64) -> Result<(), StoreError> {
        let item = records::to_item(key(), KIND, stored)?;
        let condition = if read_version == 0 {
            Condition::NotExists
        } else {
            Condition::version_is(read_version)
        };
        self.store.put(item, condition).await
    }
}

#[async_trait::async_trait]
impl AccessTokens for ZaloTokens {
    async fn access_token(&self) -> Result<String, TokenError> {
        let now = self.clock.now();
        if let Some((token, expires_at)) = self.cached.lock().expect("the cache lock").clone()
            && expires_at - SEND_AHEAD > now
        {
            return Ok(token);
        }
        self.token(Want::Fresh(SEND_AHEAD)).await
    }

    async fn after_rejection(&self, rejected: &str) -> Result<String, TokenError> {
        *self.cached.lock().expect("the cache lock") = None;
        self.token(Want::Not(rejected)).await
    }
}

/// The scheduler's tick: refreshes the pair ahead of its expiry when a credentials key is
/// configured, and answers the pair's state as one line of CloudWatch's embedded metric
/// format (namespace `Nhip`, dimension `FunctionName`: `function`), which Lambda turns into
/// the metrics the `ZaloToken*` alarms watch. `None` while no pair is installed or nothing
/// can be read.
pub async fn maintain_and_report(deps: &nhip_core::Deps, function: &str) -> Option<String> {
    deps.settings.messaging.credentials_key.as_ref()?;
    let status = match ZaloTokens::from_deps(deps).maintain().await {
        Ok(status) => status?,
        Err(error) => {
            tracing::warn!(%error, "the Zalo OA token pair could not be read");
            return None;
        }
    };
    Some(metrics_line(&status, deps.clock.now(), function))
}

/// The pair's state as an embedded-metric-format line: refreshes failed in a row (≥ 1 while
/// Zalo refuses the refresh token), days the refresh token has left, hours the access token
/// has left.
pub fn metrics_line(status: &TokenStatus, now: DateTime<Utc>, function: &str) -> String {
    let hours =
        |until: DateTime<Utc>| ((until - now).num_seconds() as f64 / 3600.0 * 10.0).round() / 10.0;
    serde_json::json!({
        "_aws": {
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "Nhip",
                "Dimensions": [["FunctionName"]],
                "Metrics": [
                    {"Name": "ZaloTokenRefreshFailures", "Unit": "Count"},
                    {"Name": "ZaloRefreshTokenDaysLeft", "Unit": "None"},
                    {"Name": "ZaloAccessTokenHoursLeft", "Unit": "None"},
                ],
            }],
        },
        "FunctionName": function,
        "ZaloTokenRefreshFailures": status.failures,
        "ZaloRefreshTokenDaysLeft": (hours(status.refresh_expires_at) / 24.0 * 10.0).round() / 10.0,
        "ZaloAccessTokenHoursLeft": hours(status.access_expires_at),
        "ZaloTokenRevoked": status.revoked,
    })
    .to_string()
}

fn lifetime(expires_in: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(expires_in).unwrap_or(chrono::TimeDelta::hours(25))
}

fn unavailable(error: impl std::fmt::Display) -> TokenError {
    TokenError::Unavailable(error.to_string())
}

fn check_token(what: &str, token: &str) -> Result<(), InstallError> {
    if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InstallError::Invalid(format!(
            "the {what} must be 1 to 4096 visible ASCII characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_pair_opens_only_with_its_key() {
        let key = SealKey::derive(&[7u8; 32]).unwrap();
        let sealed = key.seal(b"{\"a\":1}").unwrap();
        assert_eq!(key.open(&sealed).unwrap(), b"{\"a\":1}");
        assert!(!sealed.contains("\"a\""));
        let other = SealKey::derive(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed).is_none());
        let mut tampered = B64.decode(&sealed).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&B64.encode(tampered)).is_none());
        assert!(SealKey::derive(b"short").is_none());
        assert_ne!(key.seal(b"same").unwrap(), key.seal(b"same").unwrap());
    }
}
