//! The one fan-out of idp: work for many customers, at most `parallel` at a time, each
//! on its own (one failure stops no other), outcomes in the order given, each with the
//! time it took. Token exchanges (`token --all`), wrapped commands (`exec --all`) and
//! doctor's customer checks all run through it.

use futures_util::StreamExt as _;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How one item's work ended.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The item's name (a customer's).
    pub name: String,
    pub result: T,
    pub took: Duration,
}

/// Runs `work` for every item, at most `parallel` (at least 1) at once, and returns the
/// outcomes in the items' order.
pub async fn fan_out<I, T, Fut>(
    items: Vec<(String, I)>,
    parallel: usize,
    work: impl Fn(I) -> Fut,
) -> Vec<Outcome<T>>
where
    Fut: Future<Output = T>,
{
    let work = &work;
    let mut done: Vec<(usize, Outcome<T>)> =
        futures_util::stream::iter(items.into_iter().enumerate().map(
            |(i, (name, item))| async move {
                let started = Instant::now();
                let result = work(item).await;
                (
                    i,
                    Outcome {
                        name,
                        result,
                        took: started.elapsed(),
                    },
                )
            },
        ))
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, o)| o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn items(n: usize) -> Vec<(String, usize)> {
        (0..n).map(|i| (format!("c{i}"), i)).collect()
    }

    #[tokio::test]
    async fn outcomes_come_back_in_the_order_given_whatever_finishes_first() {
        let out = fan_out(items(5), 5, |i| async move {
            // The first item finishes last.
            tokio::time::sleep(Duration::from_millis(5 * (5 - i) as u64)).await;
            i * 10
        })
        .await;
        let got: Vec<(String, usize)> = out.into_iter().map(|o| (o.name, o.result)).collect();
        assert_eq!(
            got,
            (0..5)
                .map(|i| (format!("c{i}"), i * 10))
                .collect::<Vec<_>>()
        );
    }

    /// Every item must be in flight at once for any to finish: a fan-out that ran them
    /// one after another would never get past the barrier.
    #[tokio::test]
    async fn up_to_parallel_items_run_at_once() {
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let run = fan_out(items(4), 4, |i| {
            let b = Arc::clone(&barrier);
            async move {
                b.wait().await;
                i
            }
        });
        let out = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("the four items were not in flight together");
        assert_eq!(out.len(), 4);
    }

    #[tokio::test]
    async fn never_more_than_parallel_at_once_and_never_less_than_one() {
        for (parallel, expect) in [(3, 3), (1, 1), (0, 1)] {
            let now = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let out = fan_out(items(12), parallel, |i| {
                let (now, peak) = (Arc::clone(&now), Arc::clone(&peak));
                async move {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    i
                }
            })
            .await;
            assert_eq!(out.len(), 12);
            assert_eq!(peak.load(Ordering::SeqCst), expect, "parallel {parallel}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_outcome_says_how_long_it_took() {
        let out = fan_out(items(2), 2, |i| async move {
            tokio::time::sleep(Duration::from_millis(if i == 0 { 30 } else { 1 })).await;
        })
        .await;
        assert_eq!(out[0].took, Duration::from_millis(30));
        assert_eq!(out[1].took, Duration::from_millis(1));
    }
}
