//! The enabled venues, built from configuration through their adapters: the CLI never names a venue.

use std::sync::Arc;

use anyhow::Context;
use perpspread_core::Venue;
use perpspread_net::rest::ResponseObserver;
use perpspread_net::venue::{VenueAdapter, VenueRest, VenueSettings};

use crate::config::Config;

/// One enabled venue: its adapter, settings and REST client.
pub(crate) struct VenueHandle {
    pub adapter: &'static dyn VenueAdapter,
    pub settings: VenueSettings,
    pub rest: Arc<dyn VenueRest>,
}

impl VenueHandle {
    /// The venue.
    pub fn venue(&self) -> Venue {
        self.adapter.venue()
    }
}

/// Every enabled venue, in [`Venue::ALL`] order.
pub(crate) struct RestVenues {
    venues: Vec<VenueHandle>,
}

impl RestVenues {
    /// Clients pointed at the configured endpoints.
    pub(crate) fn from_config(config: &Config) -> anyhow::Result<Self> {
        Self::build(config, None)
    }

    /// Like [`RestVenues::from_config`], reporting every successful REST response to `observer` (the recorder).
    pub fn observed(config: &Config, observer: Arc<dyn ResponseObserver>) -> anyhow::Result<Self> {
        Self::build(config, Some(observer))
    }

    fn build(config: &Config, observer: Option<Arc<dyn ResponseObserver>>) -> anyhow::Result<Self> {
        let mut venues = Vec::new();
        for (venue, venue_config) in config.enabled_venues() {
            let adapter = perpspread_venues::adapter(venue);
            let settings = venue_config.settings();
            let mut rest = adapter
                .rest(config.rest_config(&settings.rest_url), &settings)
                .with_context(|| format!("{venue} REST client"))?;
            if let Some(observer) = &observer {
                rest.observe(observer.clone());
            }
            venues.push(VenueHandle { adapter, settings, rest: Arc::from(rest) });
        }
        Ok(RestVenues { venues })
    }

    /// The enabled venues.
    pub fn iter(&self) -> impl Iterator<Item = &VenueHandle> {
        self.venues.iter()
    }

    /// The handle of `venue`, if enabled.
    pub fn get(&self, venue: Venue) -> Option<&VenueHandle> {
        self.venues.iter().find(|v| v.venue() == venue)
    }
}
