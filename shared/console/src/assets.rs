//! The console's static files, embedded in the binary and served under names that carry a
//! hash of their content (`/app/assets/app.3f9a1c2e.css`), so a browser may cache them for a
//! year and still fetches a changed file at once. Nothing is fetched at build or run time:
//! htmx is vendored (`assets/htmx-2.0.8.min.js`, BSD-0).

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its name without the hash (`app.css`).
    pub name: &'static str,
    /// Its name with the hash, as pages link it.
    pub hashed: String,
    content_type: &'static str,
    body: &'static [u8],
}

fn asset(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Asset {
    let digest = hex::encode(&Sha256::digest(body)[..4]);
    let hashed = match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{digest}.{ext}"),
        None => format!("{name}.{digest}"),
    };
    Asset {
        name,
        hashed,
        content_type,
        body,
    }
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        asset(
            "app.css",
            "text/css; charset=utf-8",
            include_bytes!("../assets/app.css"),
        ),
        asset(
            "app.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/app.js"),
        ),
        asset(
            "htmx.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../assets/htmx-2.0.8.min.js"),
        ),
    ]
});

/// The path a page links `name` by (`/app/assets/app.3f9a1c2e.css`).
pub fn url(name: &str) -> String {
    ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map(|asset| format!("/app/assets/{}", asset.hashed))
        .unwrap_or_else(|| panic!("no embedded asset {name}"))
}

/// `GET /app/assets/{file}`: the file under its hashed name, cached for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.hashed == file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
