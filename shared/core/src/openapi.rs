//! What the OpenAPI document shares across features: the error responses referenced by
//! status (`(status = 404, response = NotFound)`), each answering [`ErrorBody`], and the
//! domain's enumerations (which live in `nhip-domain`, without utoipa) as string schemas built
//! from the domain's own lists of values, so the document cannot drift from them. The document
//! itself is assembled in `nhip-api`.

use nhip_domain::customer::{Channel, Classification, Lifecycle, Purpose, Source, UsageStatus};
use nhip_domain::person::Gender;
use utoipa::ToSchema;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

pub use crate::http::ErrorBody;

/// The name of the staff-token security scheme, as operations name it in
/// `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

// ---------------------------------------------------------------------------------------------
// Error responses shared by the operations, as `(status = 404, response = NotFound)`.

fn error_response(
    description: &str,
    headers: &[(&str, Type, &str)],
) -> RefOr<utoipa::openapi::Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
    );
    for (name, ty, about) in headers {
        let mut header = Header::new(ObjectBuilder::new().schema_type(ty.clone()));
        header.description = Some((*about).to_owned());
        response = response.header(*name, header);
    }
    response.build().into()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident: $description:literal $([$header:literal, $ty:expr, $about:literal])*;)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                    (stringify!($name), error_response($description, &[$(($header, $ty, $about)),*]))
                }
            }
        )+
    };
}

error_responses! {
    /// 400: a malformed request (`invalid_json`, `invalid_body`, `invalid_query`,
    /// `invalid_filter`, `invalid_cursor`, `invalid_request`).
    BadRequest: "The request is malformed: JSON that does not parse, a body that is not an object, a query parameter or filter that does not parse or is outside its documented range (`limit`, shares 0–1), a cursor from another list, or a value the store refuses (`invalid_json`, `invalid_body`, `invalid_query`, `invalid_filter`, `invalid_cursor`, `invalid_request`).";
    /// 401 `unauthenticated`, with a `WWW-Authenticate: Bearer` challenge.
    Unauthenticated: "No valid staff token (`unauthenticated`): missing, malformed, expired, or not signed by this deployment."
        ["WWW-Authenticate", Type::String, "The bearer challenge (RFC 6750), e.g. `Bearer realm=\"nhip\", error=\"invalid_token\"`."];
    /// 403 `forbidden`.
    Forbidden: "The token is valid but its role is unknown, or the role may not do this (`forbidden`).";
    /// 404 `not_found`.
    NotFound: "No such record, or it is outside the caller's scope (`not_found`): the two are indistinguishable.";
    /// 409 `conflict` or `duplicate`.
    Conflict: "The record changed since it was read, or an identifier already belongs to another customer (`conflict`, `duplicate`).";
    /// 413 `body_too_large` or `too_large`.
    PayloadTooLarge: "The body, or the record it would make, is too large (`body_too_large`, `too_large`).";
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType: "The body's Content-Type is not one the operation accepts (`unsupported_media_type`).";
    /// 422 `validation_failed` (or `rejected`), with per-field problems.
    ValidationFailed: "Well-formed but invalid (`validation_failed`; `rejected` for a bot-filled form): `fields` names each problem, in Vietnamese.";
    /// 429 `rate_limited`, with `Retry-After`.
    RateLimited: "Too many submissions from this source and form this minute (`rate_limited`)."
        ["Retry-After", Type::Integer, "Seconds until the next minute, when submissions are accepted again."];
    /// 503 `unavailable`, with `Retry-After`.
    Unavailable: "The store or a queue is busy or unreachable; nothing was changed, or retrying is safe (`unavailable`)."
        ["Retry-After", Type::Integer, "Seconds to wait before retrying."];
}

// ---------------------------------------------------------------------------------------------
// Groups of those error responses, named once for the kinds of staff operation, so an
// operation lists its own answers and one group: `responses((status = 200, …), ReadErrors)`.

macro_rules! error_groups {
    ($($(#[$doc:meta])* $name:ident: [$($status:literal => $response:ident),+];)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl utoipa::IntoResponses for $name {
                fn responses() -> std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                    [$(($status.to_owned(), RefOr::Ref(Ref::from_response_name(stringify!($response))))),+]
                        .into_iter()
                        .collect()
                }
            }
        )+
    };
}

error_groups! {
    /// Every staff operation: 401, 403, 503.
    StaffErrors: ["401" => Unauthenticated, "403" => Forbidden, "503" => Unavailable];
    /// Reading one record by its id: 401, 403, 404, 503.
    ReadErrors: ["401" => Unauthenticated, "403" => Forbidden, "404" => NotFound, "503" => Unavailable];
    /// A list or a read with query parameters: 400, 401, 403, 503.
    QueryErrors: ["400" => BadRequest, "401" => Unauthenticated, "403" => Forbidden, "503" => Unavailable];
    /// A query on one record: 400, 401, 403, 404, 503.
    QueryOneErrors: ["400" => BadRequest, "401" => Unauthenticated, "403" => Forbidden, "404" => NotFound, "503" => Unavailable];
    /// Creating from a JSON body: 400, 401, 403, 413, 415, 422, 503.
    CreateErrors: ["400" => BadRequest, "401" => Unauthenticated, "403" => Forbidden, "413" => PayloadTooLarge, "415" => UnsupportedMediaType, "422" => ValidationFailed, "503" => Unavailable];
    /// Acting on one record with a JSON body: 400, 401, 403, 404, 413, 415, 422, 503.
    ActErrors: ["400" => BadRequest, "401" => Unauthenticated, "403" => Forbidden, "404" => NotFound, "413" => PayloadTooLarge, "415" => UnsupportedMediaType, "422" => ValidationFailed, "503" => Unavailable];
    /// Changing one record conditioned on the version read: 400, 401, 403, 404, 409, 413, 415,
    /// 422, 503.
    ChangeErrors: ["400" => BadRequest, "401" => Unauthenticated, "403" => Forbidden, "404" => NotFound, "409" => Conflict, "413" => PayloadTooLarge, "415" => UnsupportedMediaType, "422" => ValidationFailed, "503" => Unavailable];
}

// ---------------------------------------------------------------------------------------------
// The domain's enumerations, as string schemas listing the domain's own wire forms. Fields
// name them with `#[schema(value_type = nhip_core::openapi::LifecycleSchema)]`.

/// A string schema named `$name` listing `$values` (an iterator of `&str` or `String`): a
/// domain enumeration in the document. Defines the marker type `$marker`.
#[macro_export]
macro_rules! domain_enum {
    ($(#[$doc:meta])* $marker:ident, $name:literal, $description:literal, $values:expr) => {
        $(#[$doc])*
        pub struct $marker;

        impl ::utoipa::PartialSchema for $marker {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::String)
                    .description(Some($description))
                    .enum_values(Some($values))
                    .into()
            }
        }

        impl ::utoipa::ToSchema for $marker {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed($name)
            }
        }
    };
}

crate::domain_enum!(
    /// [`MessageChannel`](nhip_domain::channel::MessageChannel)'s wire forms.
    MessageChannelSchema,
    "MessageChannel",
    "A way a message leaves: `email`, `sms`, `zns` (Zalo), `push` or `webhook` (another OTT bridge).",
    nhip_domain::channel::MessageChannel::ALL.iter().map(|v| v.as_str())
);
crate::domain_enum!(
    /// [`Lifecycle`]'s wire forms.
    LifecycleSchema,
    "Lifecycle",
    "Where a customer is: `new` (not yet consulted), `consulting`, `customer`, `former` (settled every contract).",
    Lifecycle::ALL.iter().map(|v| v.as_str())
);
crate::domain_enum!(
    /// [`Source`]'s wire forms.
    SourceSchema,
    "Source",
    "Where a customer came from.",
    Source::ALL.iter().map(|v| v.as_str())
);
crate::domain_enum!(
    /// The sources a public form may name: every [`Source`] but `import` and `incoming_call`
    /// (`nhip_intake::forms::validate_lead` refuses those).
    IntakeSourceSchema,
    "IntakeSource",
    "Where a web lead came from (default `website_form`).",
    Source::ALL
        .iter()
        .filter(|v| !matches!(v, Source::Import | Source::IncomingCall))
        .map(|v| v.as_str())
);
crate::domain_enum!(
    /// [`Classification`]'s wire forms.
    ClassificationSchema,
    "Classification",
    "How promising a lead is, as staff judged.",
    Classification::ALL.iter().map(|v| v.as_str())
);
crate::domain_enum!(
    /// [`Gender`]'s wire forms.
    GenderSchema,
    "Gender",
    "Gender as recorded. Requests also accept the usual Vietnamese and English forms (`nam`, `nữ`, `khác`, `m`, `f`, …).",
    GENDERS.iter().map(|v| v.as_str())
);
crate::domain_enum!(
    /// [`UsageStatus`]'s wire forms.
    UsageStatusSchema,
    "UsageStatus",
    "Whether a customer uses a product they hold.",
    UsageStatus::ALL.iter().map(|v| v.as_str())
);
crate::domain_enum!(
    /// [`Channel`]'s wire forms.
    ChannelSchema,
    "Channel",
    "A channel Nhịp can reach a customer on.",
    Channel::ALL.iter().map(|v| v.as_str())
);
crate::domain_enum!(
    /// [`Purpose`]'s wire forms.
    PurposeSchema,
    "Purpose",
    "Why a message is sent: marketing needs opt-in, care follows the contract.",
    Purpose::ALL.iter().map(|v| v.as_str())
);

crate::domain_enum!(
    /// A consent as forms send it: `<channel>:<purpose>`, every [`Channel`] with every
    /// [`Purpose`].
    ConsentPairSchema,
    "ConsentPair",
    "A consent given: `<channel>:<purpose>`.",
    Channel::ALL
        .iter()
        .flat_map(|channel| {
            Purpose::ALL
                .iter()
                .map(move |purpose| format!("{channel}:{purpose}"))
        })
);
crate::domain_enum!(
    /// [`TicketQueue`]'s wire forms.
    TicketQueueSchema,
    "TicketQueue",
    "A ticket queue: `telesales`, `rm` (relationship managers), `cskh` (customer service).",
    nhip_domain::journey::TicketQueue::ALL.iter().map(|v| v.as_str())
);
/// Every [`Gender`] (the domain has no list of them); the match fails to compile when one is
/// added, so this list cannot fall behind.
const GENDERS: [Gender; 3] = [Gender::Male, Gender::Female, Gender::Other];
const _: fn(Gender) = |gender| match gender {
    Gender::Male | Gender::Female | Gender::Other => {}
};

// ---------------------------------------------------------------------------------------------
// Routes with their operations, documented only when the document is built.

thread_local! {
    static DOCUMENTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the routes being built are for the OpenAPI document ([`documented`]) rather than
/// for serving.
pub fn documenting() -> bool {
    DOCUMENTING.with(std::cell::Cell::get)
}

/// Runs `build` (which builds route lists with [`routes!`](crate::routes)) with every
/// operation and schema documented, for the OpenAPI document.
pub fn documented<T>(build: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            DOCUMENTING.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(DOCUMENTING.with(|flag| flag.replace(true)));
    build()
}

/// `utoipa_axum::routes!` for Nhịp's route lists: the same handlers, as [`Handlers`] that
/// [`Routes::routes`] takes, so one list still both serves a route and documents it. Built
/// for serving, it takes only each handler's path and methods from its `#[utoipa::path]` and
/// leaves the operation and its schemas out: building those for every route of the `api`
/// function was most of its cold start (docs/performance.md, "Lambda cold start"). Within
/// [`documented`] it is `utoipa_axum::routes!` itself, wrapped as [`Handlers`].
#[macro_export]
macro_rules! routes {
    // One handler: its path and methods, routed to it.
    ( @serve $path:ident $methods:ident $router:ident [ $($handler:tt)+ ] ) => {
        let path: String = utoipa_axum::routes!(@path [path()] of $($handler)+);
        assert!(
            $path.is_empty() || $path == path,
            "one routes! names handlers of one path: {} and {path}",
            $path
        );
        $path = path;
        let methods: Vec<utoipa::openapi::path::HttpMethod> =
            utoipa_axum::routes!(@path [methods()] of $($handler)+);
        for method in &methods {
            $router = $router.on(method.to_method_filter(), $($handler)+);
        }
        $methods.extend(methods);
    };
    ( @serve $path:ident $methods:ident $router:ident [ ] ) => {};
    // The list, split at its commas (handlers are paths such as `public::follow_link`).
    ( @split $path:ident $methods:ident $router:ident [ $($handler:tt)* ] ) => {
        $crate::routes!(@serve $path $methods $router [ $($handler)* ]);
    };
    ( @split $path:ident $methods:ident $router:ident [ $($handler:tt)* ] , $($rest:tt)* ) => {
        $crate::routes!(@serve $path $methods $router [ $($handler)* ]);
        $crate::routes!(@split $path $methods $router [] $($rest)*);
    };
    ( @split $path:ident $methods:ident $router:ident [ $($handler:tt)* ] $next:tt $($rest:tt)* ) => {
        $crate::routes!(@split $path $methods $router [ $($handler)* $next ] $($rest)*);
    };
    ( $($list:tt)+ ) => {
        if $crate::openapi::documenting() {
            $crate::openapi::Handlers::documented(utoipa_axum::routes!($($list)+))
        } else {
            #[allow(unused_imports)]
            use utoipa_axum::PathItemExt as _;
            // Each handler's `#[utoipa::path]` sets it (all of one list name the same path).
            let mut path = String::new();
            let mut methods = Vec::<utoipa::openapi::path::HttpMethod>::new();
            let mut router = axum::routing::MethodRouter::new();
            $crate::routes!(@split path methods router [] $($list)+);
            $crate::openapi::Handlers::served(path, methods, router)
        }
    };
}

/// The handlers of one path, as [`routes!`](crate::routes) gives them: to serve, the path,
/// its methods and their method router; within [`documented`], utoipa's triple with each
/// operation and its schemas.
pub struct Handlers<S>(HandlersBuilt<S>);

enum HandlersBuilt<S> {
    /// The method router boxed: a few hundred bytes that would otherwise be copied at every
    /// push and merge of the lists, and again into the router, at every cold start.
    Served {
        path: String,
        methods: Vec<utoipa::openapi::path::HttpMethod>,
        router: Box<axum::routing::MethodRouter<S>>,
    },
    /// Boxed: the operations are large, and the served form is what moves at cold start.
    Documented(Box<utoipa_axum::router::UtoipaMethodRouter<S>>),
}

impl<S: Clone + Send + Sync + 'static> Handlers<S> {
    /// Handlers to serve `methods` on `path` (an empty path is the root, as utoipa-axum has it).
    pub fn served(
        path: String,
        methods: Vec<utoipa::openapi::path::HttpMethod>,
        router: axum::routing::MethodRouter<S>,
    ) -> Self {
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            path
        };
        Self(HandlersBuilt::Served {
            path,
            methods,
            router: Box::new(router),
        })
    }

    /// Handlers with their operations, from `utoipa_axum::routes!`.
    pub fn documented(routes: utoipa_axum::router::UtoipaMethodRouter<S>) -> Self {
        Self(HandlersBuilt::Documented(Box::new(routes)))
    }

    /// The same handlers with `layer` around them alone (e.g. a larger body limit for one
    /// upload route): the route and its operation stay declared once.
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        Self(match self.0 {
            HandlersBuilt::Served {
                path,
                methods,
                router,
            } => HandlersBuilt::Served {
                path,
                methods,
                router: Box::new(router.layer(layer)),
            },
            HandlersBuilt::Documented(routes) => {
                let (schemas, paths, router) = *routes;
                HandlersBuilt::Documented(Box::new((schemas, paths, router.layer(layer))))
            }
        })
    }
}

/// A route list: the routes of one feature, or of many merged. Built to serve, it is an axum
/// router and the path and methods of each route (no OpenAPI document at all: merging the
/// documents' path maps, even of empty operations, was most of what the `api` function still
/// spent building its routes at cold start); within [`documented`] it is utoipa's
/// `OpenApiRouter`, whose document it gives with [`Routes::into_openapi`].
pub struct Routes<S = ()>(Built<S>);

enum Built<S> {
    /// The routes in the order they were added, each path with its methods and their method
    /// router. Kept as a list until [`Routes::into_router`] puts them into one axum router:
    /// merging the features' routers would insert every route again at each merge.
    Served(Vec<ServedRoute<S>>),
    /// Boxed: utoipa's router and document are some 800 bytes, moved at every step.
    Documented(Box<utoipa_axum::router::OpenApiRouter<S>>),
}

struct ServedRoute<S> {
    path: String,
    methods: Vec<utoipa::openapi::path::HttpMethod>,
    /// Boxed, as in [`HandlersBuilt::Served`].
    router: Box<axum::routing::MethodRouter<S>>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// An empty list, documented when built within [`documented`].
    pub fn new() -> Self {
        Self(if documenting() {
            Built::Documented(Box::new(utoipa_axum::router::OpenApiRouter::new()))
        } else {
            Built::Served(Vec::new())
        })
    }

    /// Adds the handlers of one [`routes!`](crate::routes).
    ///
    /// # Panics
    /// When the handlers were built within [`documented`] and the list outside it, or the
    /// other way round.
    pub fn routes(self, handlers: Handlers<S>) -> Self {
        match (self.0, handlers.0) {
            (Built::Documented(list), HandlersBuilt::Documented(routes)) => {
                Self(Built::Documented(Box::new(list.routes(*routes))))
            }
            (
                Built::Served(mut routes),
                HandlersBuilt::Served {
                    path,
                    methods,
                    router,
                },
            ) => {
                routes.push(ServedRoute {
                    path,
                    methods,
                    router,
                });
                Self(Built::Served(routes))
            }
            _ => panic!("handlers built for serving and for the document cannot be mixed"),
        }
    }

    /// Adds every route of `other`.
    ///
    /// # Panics
    /// When one list was built within [`documented`] and the other outside it.
    pub fn merge(self, other: Routes<S>) -> Self {
        match (self.0, other.0) {
            (Built::Documented(list), Built::Documented(other)) => {
                Self(Built::Documented(Box::new(list.merge(*other))))
            }
            (Built::Served(mut routes), Built::Served(others)) => {
                routes.extend(others);
                Self(Built::Served(routes))
            }
            _ => panic!("route lists built for serving and for the document cannot be merged"),
        }
    }

    /// Wraps every route added so far in `layer`, as [`axum::Router::layer`] does its routes.
    /// Served, the list has no fallback of its own to wrap: the router it is served from sets
    /// one (a documented list's is never served).
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        Self(match self.0 {
            Built::Documented(list) => Built::Documented(Box::new(list.layer(layer))),
            Built::Served(routes) => Built::Served(
                routes
                    .into_iter()
                    .map(|route| ServedRoute {
                        router: Box::new(route.router.layer(layer.clone())),
                        ..route
                    })
                    .collect(),
            ),
        })
    }

    /// The router that serves the list.
    pub fn into_router(self) -> axum::Router<S> {
        match self.0 {
            Built::Documented(list) => list.split_for_parts().0,
            Built::Served(routes) => routes
                .into_iter()
                .fold(axum::Router::new(), |router, route| {
                    router.route(&route.path, *route.router)
                }),
        }
    }

    /// The list's part of the OpenAPI document: every operation with its documentation when
    /// built within [`documented`], else each route's path and methods with empty operations.
    pub fn into_openapi(self) -> utoipa::openapi::OpenApi {
        match self.0 {
            Built::Documented(list) => list.into_openapi(),
            Built::Served(routes) => {
                let mut paths = utoipa::openapi::path::Paths::new();
                for route in routes {
                    paths.add_path_operation(
                        route.path,
                        route.methods,
                        utoipa::openapi::path::Operation::new(),
                    );
                }
                utoipa::openapi::OpenApiBuilder::new().paths(paths).build()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use super::*;

    #[utoipa::path(get, path = "/a/{id}", params(("id" = String, Path)), responses((status = 200)))]
    async fn get_a(axum::extract::Path(id): axum::extract::Path<String>) -> String {
        format!("a {id}")
    }

    #[utoipa::path(post, path = "/a/{id}", params(("id" = String, Path)), responses((status = 200)))]
    async fn post_a() -> &'static str {
        "posted"
    }

    #[utoipa::path(get, path = "/b", responses((status = 200)))]
    async fn get_b() -> &'static str {
        "b"
    }

    fn lists() -> Routes<()> {
        let limited = Routes::new()
            .routes(crate::routes!(get_a))
            .layer(axum::extract::DefaultBodyLimit::max(4));
        Routes::new()
            .routes(crate::routes!(post_a))
            .layer(axum::middleware::map_response(mark))
            .merge(limited)
            .merge(Routes::new().routes(crate::routes!(get_b)))
    }

    /// Marks the answers of the routes its layer wraps.
    async fn mark(mut response: axum::response::Response) -> axum::response::Response {
        response
            .headers_mut()
            .insert("x-layered", axum::http::HeaderValue::from_static("yes"));
        response
    }

    async fn call(router: &axum::Router, method: &str, uri: &str) -> (StatusCode, bool, String) {
        let response = router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let layered = response.headers().contains_key("x-layered");
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, layered, String::from_utf8(body.to_vec()).unwrap())
    }

    /// Served lists route every path once with all its methods, each list's layer around its
    /// own routes alone, and describe the same paths and methods as the documented lists.
    #[tokio::test]
    async fn served_lists_route_merge_and_layer_as_documented_lists_do() {
        let router = lists().into_router();
        assert_eq!(
            call(&router, "GET", "/a/7").await,
            (StatusCode::OK, false, "a 7".to_owned())
        );
        assert_eq!(
            call(&router, "POST", "/a/7").await,
            (StatusCode::OK, true, "posted".to_owned())
        );
        assert_eq!(call(&router, "GET", "/b").await.0, StatusCode::OK);
        assert_eq!(
            call(&router, "DELETE", "/a/7").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let paths = |document: utoipa::openapi::OpenApi| {
            document
                .paths
                .paths
                .iter()
                .map(|(path, item)| {
                    (
                        path.clone(),
                        item.get.is_some(),
                        item.post.is_some(),
                        item.get.as_ref().and_then(|o| o.operation_id.clone()),
                    )
                })
                .collect::<Vec<_>>()
        };
        let served = paths(lists().into_openapi());
        let documented = paths(documented(|| lists().into_openapi()));
        assert_eq!(
            served.iter().map(|p| (&p.0, p.1, p.2)).collect::<Vec<_>>(),
            documented
                .iter()
                .map(|p| (&p.0, p.1, p.2))
                .collect::<Vec<_>>()
        );
        assert_eq!(served[0].3, None);
        assert_eq!(documented[0].3.as_deref(), Some("get_a"));
    }
}
