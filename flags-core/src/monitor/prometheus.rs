//! Asking Prometheus for one number: what `flags guard` and the monitor
//! do with each guard's query.
//!
//! `GET {base}/api/v1/query?query=...` (an instant query at the server's
//! now). A guard's query must answer one number: a scalar, or an instant
//! vector with exactly one sample. Anything else is [`NoData`], with the
//! reason, never a value: an unreachable server, an HTTP error, an error
//! from Prometheus, an empty result, several series, a value that is not
//! a finite number.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

use super::MonitorError;

/// Why a query gave no number.
#[derive(Clone, Debug, PartialEq)]
pub struct NoData {
    /// A short, stable name for metrics labels: `unreachable`,
    /// `http_status`, `query_error`, `bad_response`, `empty`,
    /// `several_series`, `not_a_number`.
    pub kind: &'static str,
    /// What happened, for a person.
    pub detail: String,
}

impl NoData {
    pub(crate) fn new(kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for NoData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail, self.kind)
    }
}

/// A Prometheus server's query API.
#[derive(Clone)]
pub struct Prometheus {
    client: reqwest::Client,
    endpoint: Url,
}

impl Prometheus {
    /// The server at `base` (`http://127.0.0.1:9090`, with or without a
    /// path prefix); each query gives up after `timeout`. A bad `base` is
    /// [`MonitorError::Url`], whose message starts with the URL.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, MonitorError> {
        let mut base = Url::parse(base).map_err(|e| {
            MonitorError::Url(format!(
                "{base:?}: {e}: expected a URL such as http://127.0.0.1:9090"
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(MonitorError::Url(format!(
                "{base}: expected an http:// or https:// URL"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let endpoint = base
            .join("api/v1/query")
            .map_err(|e| MonitorError::Url(format!("{base}: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| MonitorError::Runtime(format!("cannot start an HTTP client: {e}")))?;
        Ok(Self { client, endpoint })
    }

    /// The no data of a query still unanswered when its caller's time,
    /// `within`, ran out.
    pub(crate) fn late(&self, within: Duration) -> NoData {
        NoData::new(
            "unreachable",
            format!(
                "Prometheus at {} gave no answer within {} ms",
                self.endpoint,
                within.as_millis()
            ),
        )
    }

    /// The one number `query` answers now.
    pub async fn value(&self, query: &str) -> Result<f64, NoData> {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut().append_pair("query", query);
        let response = self.client.get(url).send().await.map_err(|e| {
            NoData::new(
                "unreachable",
                format!("Prometheus at {} is unreachable: {e}", self.endpoint),
            )
        })?;
        let status = response.status();
        let body = read_capped(response).await?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        // Prometheus answers errors (a bad query: 400) with a JSON body
        // saying what went wrong: that is the more useful message.
        if let Some(error) = json
            .as_ref()
            .filter(|j| j["status"] == "error")
            .and_then(|j| j["error"].as_str())
        {
            return Err(NoData::new(
                "query_error",
                format!("Prometheus refused the query: {error}"),
            ));
        }
        if !status.is_success() {
            return Err(NoData::new(
                "http_status",
                format!("Prometheus answered HTTP {status}"),
            ));
        }
        let Some(json) = json else {
            return Err(NoData::new(
                "bad_response",
                "Prometheus answered something that is not JSON",
            ));
        };
        one_number(&json)
    }
}

/// The most of an answer read: one number is about a hundred bytes, and a
/// query that matches every series of a large Prometheus must not fill the
/// memory of the guard or of a server's dashboard.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The body of `response`, refused past [`MAX_ANSWER_BYTES`] (as soon as
/// the limit is crossed, not after reading the rest).
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, NoData> {
    let too_large = || {
        NoData::new(
            "bad_response",
            format!(
                "Prometheus answered more than {} KiB: a guard's query must give one number",
                MAX_ANSWER_BYTES / 1024
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(NoData::new(
                    "unreachable",
                    format!("the answer of Prometheus was cut short: {e}"),
                ));
            }
        }
    }
}

/// The number in an instant query's answer (`{"status": "success",
/// "data": {"resultType": ..., "result": ...}}`).
pub fn one_number(answer: &Value) -> Result<f64, NoData> {
    let data = &answer["data"];
    let sample = match (data["resultType"].as_str(), &data["result"]) {
        (Some("scalar"), sample) => sample,
        (Some("vector"), Value::Array(series)) => match series.as_slice() {
            [] => {
                return Err(NoData::new(
                    "empty",
                    "the query answered no series (is the metric scraped yet?)",
                ));
            }
            [one] => &one["value"],
            several => {
                return Err(NoData::new(
                    "several_series",
                    format!(
                        "the query answered {} series, not one number (aggregate it, e.g. with sum())",
                        several.len()
                    ),
                ));
            }
        },
        (Some(other), _) => {
            return Err(NoData::new(
                "bad_response",
                format!("the query answered a {other}, not one number"),
            ));
        }
        (None, _) => {
            return Err(NoData::new(
                "bad_response",
                "the answer of Prometheus has no data.resultType",
            ));
        }
    };
    // A sample is [time, "value"]; the value is a string ("NaN", "+Inf").
    let text = sample[1].as_str().ok_or_else(|| {
        NoData::new(
            "bad_response",
            "the answer of Prometheus has no [time, value] sample",
        )
    })?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(NoData::new(
            "not_a_number",
            format!("the query answered {text}, not a finite number"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Result<f64, NoData> {
        one_number(&serde_json::from_str(text).expect("json"))
    }

    #[test]
    fn one_number_or_why_not() {
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.09"]}]}}"#;
        assert_eq!(answer(vector), Ok(0.09));
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"-2"]}}"#;
        assert_eq!(answer(scalar), Ok(-2.0));
        let kind = |text: &str| answer(text).expect_err("no data").kind;
        assert_eq!(
            kind(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#),
            "empty"
        );
        assert_eq!(
            kind(
                r#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}"#
            ),
            "several_series"
        );
        for v in ["NaN", "+Inf", "-Inf", "x"] {
            let text = format!(
                r#"{{"status":"success","data":{{"resultType":"scalar","result":[1,"{v}"]}}}}"#
            );
            assert_eq!(kind(&text), "not_a_number", "{v}");
        }
        assert_eq!(
            kind(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#),
            "bad_response"
        );
        assert_eq!(kind(r#"{"status":"success"}"#), "bad_response");
    }
}
