//! Optional bearer tokens with scopes, compared in constant time.
//!
//! The header is `Authorization: Bearer <token>`; the scheme name is
//! case-insensitive (RFC 9110, 11.1), and any number of spaces may separate
//! it from the token (RFC 9110's `1*SP`).
//!
//! A token has a scope: [`Scope::Server`] opens everything, as tokens
//! always did; [`Scope::Client`] opens only evaluation for a context
//! (`POST /v1/evaluate`, OFREP single and bulk, `GET /v1/stream`'s version
//! events) and sending migration records (`POST /v1/migrations`, what an
//! app's workers do) and gets 403 everywhere else, so a token shipped inside an app
//! cannot download the file (pilot lists, deny lists, tenant names).
//!
//! A configured entry is written like a line of the tokens file: `TOKEN`
//! (scope `server`) or `TOKEN SCOPE`. A presented token never holds a
//! space, so the space cannot be part of a token and the two forms cannot
//! be confused.
//!
//! Tokens are kept only as keyed 128-bit hashes (the key is random per
//! process), and a presented token is hashed the same way and compared with
//! every configured hash without an early exit: the time taken says nothing
//! about how much of a token matched, nor which one, nor its scope.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use siphasher::sip128::{Hasher128, SipHasher24};
use subtle::{Choice, ConstantTimeEq};
use tracing::error;

use super::errors::{Api, Error};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Everything (the only scope before scopes existed).
    Server,
    /// Evaluation for a context only: [`CLIENT_ROUTES`].
    Client,
}

impl Scope {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "server" => Some(Scope::Server),
            "client" => Some(Scope::Client),
            _ => None,
        }
    }
}

/// The routes a `client` token opens: evaluation for the context the
/// request gives, the version events that say when to evaluate again, and
/// the migration records an app sends. Every other route (`/v1/flags`,
/// `/v1/status`, any route added later) needs a `server` token.
pub(crate) const CLIENT_ROUTES: [&str; 5] = [
    "/v1/evaluate",
    "/v1/stream",
    "/v1/migrations",
    "/ofrep/v1/evaluate/flags",
    "/ofrep/v1/evaluate/flags/{key}",
];

pub(crate) struct Auth {
    keys: (u64, u64),
    hashes: Vec<([u8; 16], Scope)>,
}

impl Auth {
    /// `entries` are `TOKEN` or `TOKEN SCOPE`. An entry that is neither
    /// (the CLI refuses those at start) is kept as a whole: it holds a
    /// space, so no presented token can match it, and auth stays on.
    pub fn new(entries: &[String]) -> Self {
        let random = RandomState::new();
        let keys = (random.hash_one(1u8), random.hash_one(2u8));
        let mut auth = Self {
            keys,
            hashes: Vec::new(),
        };
        auth.hashes = entries
            .iter()
            .map(|entry| {
                let (token, scope) = split_entry(entry).unwrap_or_else(|| {
                    error!("a configured token is not `TOKEN` or `TOKEN server|client`: it matches nothing");
                    (entry.as_str(), Scope::Server)
                });
                (auth.hash(token.as_bytes()), scope)
            })
            .collect();
        auth
    }

    pub fn enabled(&self) -> bool {
        !self.hashes.is_empty()
    }

    fn hash(&self, token: &[u8]) -> [u8; 16] {
        let mut hasher = SipHasher24::new_with_keys(self.keys.0, self.keys.1);
        hasher.write(token);
        hasher.finish128().as_bytes()
    }

    /// The scope the `Authorization` header grants: `None` without an
    /// accepted token, `Server` when auth is off. A token configured with
    /// both scopes gets the wider one.
    pub fn scope(&self, authorization: Option<&HeaderValue>) -> Option<Scope> {
        if !self.enabled() {
            return Some(Scope::Server);
        }
        let token = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)?;
        let presented = self.hash(token.as_bytes());
        let mut server = Choice::from(0);
        let mut client = Choice::from(0);
        for (known, scope) in &self.hashes {
            let matched = presented.ct_eq(known);
            let is_server = Choice::from(u8::from(*scope == Scope::Server));
            server |= matched & is_server;
            client |= matched & !is_server;
        }
        if bool::from(server) {
            Some(Scope::Server)
        } else if bool::from(client) {
            Some(Scope::Client)
        } else {
            None
        }
    }

    /// Whether the `Authorization` header carries an accepted token, of
    /// any scope.
    #[cfg(test)]
    fn allows(&self, authorization: Option<&HeaderValue>) -> bool {
        self.scope(authorization).is_some()
    }
}

/// The token and scope of a configured entry: `TOKEN` or `TOKEN SCOPE`.
fn split_entry(entry: &str) -> Option<(&str, Scope)> {
    let mut fields = entry.split_ascii_whitespace();
    let token = fields.next()?;
    let scope = fields.next().map_or(Some(Scope::Server), Scope::parse)?;
    fields.next().is_none().then_some((token, scope))
}

/// The token of a `Bearer` credential: the scheme in any case, then one or
/// more spaces, then a token without spaces.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// Rejects requests without an accepted token (401 with `WWW-Authenticate`
/// and an error in the API's shape that says only that a token is needed),
/// and a `client` token's requests outside [`CLIENT_ROUTES`] (403).
pub(crate) async fn require(
    State(auth): State<Arc<Auth>>,
    request: Request,
    next: Next,
) -> Response {
    let api = Api::of(request.uri().path());
    match auth.scope(request.headers().get(header::AUTHORIZATION)) {
        Some(Scope::Server) => next.run(request).await,
        Some(Scope::Client) => {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str);
            if route.is_some_and(|r| CLIENT_ROUTES.contains(&r)) {
                next.run(request).await
            } else {
                Error::forbidden(api, request.method(), request.uri().path()).into_response()
            }
        }
        None => Error::unauthorized(api).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_configured_tokens() {
        let auth = Auth::new(&["alpha".to_owned(), "beta".to_owned()]);
        let header = |v: &str| HeaderValue::from_str(v).expect("header");
        assert!(auth.allows(Some(&header("Bearer alpha"))));
        assert!(auth.allows(Some(&header("Bearer beta"))));
        assert!(!auth.allows(Some(&header("Bearer alph"))));
        assert!(!auth.allows(Some(&header("alpha"))));
        assert!(!auth.allows(None));
        assert!(Auth::new(&[]).allows(None));
    }

    #[test]
    fn entries_carry_a_scope() {
        let auth = Auth::new(&[
            "ops".to_owned(),
            "ops-2 server".to_owned(),
            "app client".to_owned(),
            "both client".to_owned(),
            "both".to_owned(),
            "bad scope here".to_owned(),
        ]);
        let header = |t: &str| HeaderValue::from_str(&format!("Bearer {t}")).expect("header");
        assert_eq!(auth.scope(Some(&header("ops"))), Some(Scope::Server));
        assert_eq!(auth.scope(Some(&header("ops-2"))), Some(Scope::Server));
        assert_eq!(auth.scope(Some(&header("app"))), Some(Scope::Client));
        assert_eq!(auth.scope(Some(&header("both"))), Some(Scope::Server));
        for none in ["bad", "client", "server", "app client"] {
            assert_eq!(auth.scope(Some(&header(none))), None, "{none}");
        }
        // A malformed entry alone keeps auth on and opens nothing.
        let auth = Auth::new(&["bad scope here".to_owned()]);
        assert!(auth.enabled());
        assert_eq!(auth.scope(Some(&header("bad"))), None);
        assert_eq!(auth.scope(None), None);
        assert_eq!(Auth::new(&[]).scope(None), Some(Scope::Server));
    }

    #[test]
    fn the_scheme_is_case_insensitive_and_spaces_may_repeat() {
        let auth = Auth::new(&["alpha".to_owned()]);
        let header = |v: &str| HeaderValue::from_str(v).expect("header");
        for accepted in [
            "bearer alpha",
            "BEARER alpha",
            "BeArEr alpha",
            "Bearer   alpha",
            "Bearer alpha ",
        ] {
            assert!(auth.allows(Some(&header(accepted))), "{accepted:?}");
        }
        for refused in [
            "Bearer",
            "Bearer ",
            "Bearer\talpha",
            "Bearer alpha beta",
            "Bearerr alpha",
            "Basic alpha",
            "alpha",
        ] {
            assert!(!auth.allows(Some(&header(refused))), "{refused:?}");
        }
    }
}
