//! Optional bearer tokens, compared in constant time.
//!
//! The header is `Authorization: Bearer <token>`; the scheme name is
//! case-insensitive (RFC 9110, 11.1), and any number of spaces may separate
//! it from the token (RFC 9110's `1*SP`).
//!
//! Tokens are kept only as keyed 128-bit hashes (the key is random per
//! process), and a presented token is hashed the same way and compared with
//! every configured hash without an early exit: the time taken says nothing
//! about how much of a token matched, nor which one.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use siphasher::sip128::{Hasher128, SipHasher24};
use subtle::ConstantTimeEq;

use super::errors::{Api, Error};

pub(crate) struct Auth {
    keys: (u64, u64),
    hashes: Vec<[u8; 16]>,
}

impl Auth {
    pub fn new(tokens: &[String]) -> Self {
        let random = RandomState::new();
        let keys = (random.hash_one(1u8), random.hash_one(2u8));
        let mut auth = Self {
            keys,
            hashes: Vec::new(),
        };
        auth.hashes = tokens.iter().map(|t| auth.hash(t.as_bytes())).collect();
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

    /// Whether the `Authorization` header carries an accepted token.
    pub fn allows(&self, authorization: Option<&HeaderValue>) -> bool {
        if !self.enabled() {
            return true;
        }
        let Some(token) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
        else {
            return false;
        };
        let presented = self.hash(token.as_bytes());
        let mut accepted = subtle::Choice::from(0);
        for known in &self.hashes {
            accepted |= presented.ct_eq(known);
        }
        accepted.into()
    }
}

/// The token of a `Bearer` credential: the scheme in any case, then one or
/// more spaces, then a token without spaces.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// Rejects requests without an accepted token: 401 with `WWW-Authenticate`
/// and an error in the API's shape that says only that a token is needed.
pub(crate) async fn require(
    State(auth): State<Arc<Auth>>,
    request: Request,
    next: Next,
) -> Response {
    if auth.allows(request.headers().get(header::AUTHORIZATION)) {
        next.run(request).await
    } else {
        Error::unauthorized(Api::of(request.uri().path())).into_response()
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
