//! Tokens for many customers at once: each customer's exchange runs on its own, at most
//! `parallel` at a time; one failure never stops the others; a throttled answer (429, 5xx)
//! slows every exchange through one [`SharedBackoff`]; each attempt signs a fresh assertion
//! with the one key loaded for the run.

use futures_util::StreamExt;
use idp_exchange::Secret;
use idp_exchange::client::{self, ExchangeError, RetryNote, SharedBackoff, SignError};
use idp_exchange::explain::Context;
use idp_exchange::request::Target;
use idp_exchange::response::AccessToken;
use idp_exchange::retry::Policy;
use std::time::{Duration, Instant};

/// One customer's exchange, checked and ready.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub target: Target,
    /// The values the exchange uses, for explanations.
    pub context: Context,
}

/// How one customer's exchange ended.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    pub result: Result<AccessToken, ExchangeError>,
    pub took: Duration,
}

/// One job's assertion being signed.
pub type SignFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Secret, SignError>> + Send + 'a>>;

/// Runs every job, at most `parallel` at once, and returns their outcomes in the jobs'
/// order. `sign(job)` signs one fresh assertion for that job's customer; `on_token(job,
/// token)` hears of each token as it comes (so what is done with it overlaps the other
/// exchanges); `on_retry(name, note)` hears of each retry.
pub async fn mint_all<'s>(
    http: &reqwest::Client,
    jobs: &[Job],
    parallel: usize,
    policy: &Policy,
    sign: &'s (dyn Fn(&Job) -> SignFuture<'s> + Sync),
    on_token: &(dyn Fn(&Job, &AccessToken) + Sync),
    on_retry: &(dyn Fn(&str, &RetryNote) + Sync),
) -> Vec<Outcome> {
    let backoff = SharedBackoff::new();
    let backoff = &backoff;
    let mut outcomes: Vec<(usize, Outcome)> = futures_util::stream::iter(jobs.iter().enumerate())
        .map(|(i, job)| async move {
            let started = Instant::now();
            let result = client::exchange_sharing(
                http,
                &job.target,
                &job.context,
                policy,
                Some(backoff),
                async || sign(job).await,
                |note| on_retry(&job.name, note),
            )
            .await;
            if let Ok(token) = &result {
                on_token(job, token);
            }
            (
                i,
                Outcome {
                    name: job.name.clone(),
                    result,
                    took: started.elapsed(),
                },
            )
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}
