//! Quick throughput figure for the embedded store: conditional creates (durable, group
//! committed) at a given concurrency, then point reads.
//!
//! `cargo run --release -p embedded-store --example throughput [WRITES] [CONCURRENCY]`

use std::sync::Arc;
use std::time::Instant;

use embedded_store::EmbeddedStore;
use item_store::{Condition, Item, ItemStore, Key, Query, SortKey};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let writes: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let concurrency: usize = args.next().map_or(Ok(8), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let store = Arc::new(EmbeddedStore::open(dir.path().join("bench.redb"))?);

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let mut i = worker;
            while i < writes {
                let mut attrs = serde_json::Map::new();
                attrs.insert("version".into(), 1.into());
                attrs.insert("userName".into(), format!("user{i}@example.com").into());
                attrs.insert("gsi1pk".into(), "USERNAME".into());
                attrs.insert("gsi1sk".into(), format!("user{i}@example.com").into());
                let item = Item::new(Key::new(format!("USER#{i}"), "A"), attrs);
                store.put(item, Condition::Absent).await?;
                i += concurrency;
            }
            Ok::<_, item_store::StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    println!(
        "{writes} conditional puts at concurrency {concurrency}: {:.2} s, {:.0} puts/s",
        elapsed.as_secs_f64(),
        writes as f64 / elapsed.as_secs_f64()
    );

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let mut i = worker;
            while i < writes {
                let query = Query::index(item_store::GSI1, "USERNAME")
                    .sort(SortKey::Equals(format!("user{i}@example.com")));
                let page = store.query(&query).await?;
                assert_eq!(page.items.len(), 1);
                i += concurrency;
            }
            Ok::<_, item_store::StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();
    println!(
        "{writes} index equality queries at concurrency {concurrency}: {:.2} s, {:.0} queries/s",
        elapsed.as_secs_f64(),
        writes as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
