//! What a scraper is, and what a scraper's flag declaration gives back.

use std::future::Future;
use std::pin::Pin;

use octo_exporter_kit::{Flags, MetricFamily};

use super::db::{Db, ScrapeError};

/// A boxed scrape future (trait objects cannot have `async fn`).
pub type ScrapeFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ScrapeError>> + Send + 'a>>;

/// One upstream scraper. Its name lives in the registry only, which pairs it with the scraper in
/// an [`EnabledScraper`].
pub trait Scraper: Send + Sync {
    /// The lowest `major.minor` server version it runs on (upstream's `Version()`).
    fn min_version(&self) -> f64 {
        5.1
    }

    /// Appends this scraper's families for one scrape.
    fn scrape<'a>(&'a self, db: &'a mut Db, out: &'a mut Vec<MetricFamily>) -> ScrapeFuture<'a>;
}

/// Builds a scraper from the parsed flags through the handles its declaration captured, or says
/// which flag value is wrong.
pub type Builder = Box<dyn Fn(&Flags) -> Result<Box<dyn Scraper>, String>>;

/// A scraper the flags enabled, under its registry name (the `--collect.<name>` flag, the
/// `collector="collect.<name>"` label and the `collect[]=<name>` parameter).
pub struct EnabledScraper {
    name: &'static str,
    scraper: Box<dyn Scraper>,
}

impl EnabledScraper {
    pub fn new(name: &'static str, scraper: Box<dyn Scraper>) -> Self {
        EnabledScraper { name, scraper }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn min_version(&self) -> f64 {
        self.scraper.min_version()
    }

    pub fn scrape<'a>(
        &'a self,
        db: &'a mut Db,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        self.scraper.scrape(db, out)
    }
}
