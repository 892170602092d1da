//! The relays' outbox worker counters (`mmsrelay_outbox_*` on each relay's `/metrics`), read
//! before and after a run: lease requests, empty ones, items leased and items deferred.

use std::time::Duration;

/// The outbox counters of one relay, summed over its worker loops.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct QueueCounters {
    /// Lease requests (each a store write).
    pub(super) leases: f64,
    /// Lease requests that found nothing.
    pub(super) empty_leases: f64,
    /// Items leased.
    pub(super) items: f64,
    /// Items put back without being worked on (`Outcome::Defer`, e.g. peer at its in-flight cap).
    pub(super) deferred: f64,
}

impl QueueCounters {
    /// Sums the `mmsrelay_outbox_*` counters of a Prometheus text exposition over their labels.
    pub(super) fn parse(text: &str) -> Self {
        let mut c = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name_labels, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let name = name_labels.split('{').next().unwrap_or("");
            let slot = match name {
                "mmsrelay_outbox_leases_total" => &mut c.leases,
                "mmsrelay_outbox_empty_leases_total" => &mut c.empty_leases,
                "mmsrelay_outbox_leased_items_total" => &mut c.items,
                "mmsrelay_outbox_deferred_total" => &mut c.deferred,
                _ => continue,
            };
            *slot += value;
        }
        c
    }

    /// Reads them from the admin listener on `port` (`None` when it does not answer).
    pub(super) async fn scrape(port: u16) -> Option<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        let response = client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .ok()?;
        Some(Self::parse(&response.text().await.ok()?))
    }

    /// The counts between two readings.
    pub(super) fn between(before: Option<Self>, after: Option<Self>) -> Option<Self> {
        let (b, a) = (before?, after?);
        Some(Self {
            leases: a.leases - b.leases,
            empty_leases: a.empty_leases - b.empty_leases,
            items: a.items - b.items,
            deferred: a.deferred - b.deferred,
        })
    }

    /// As JSON, with `per_mm` lease requests per pushed MM.
    pub(super) fn json(&self, pushed: u64) -> serde_json::Value {
        serde_json::json!({
            "leases": self.leases,
            "empty_leases": self.empty_leases,
            "leased_items": self.items,
            "deferred": self.deferred,
            "leases_per_mm": per(self.leases, pushed),
        })
    }

    /// As one line of text.
    pub(super) fn text(&self, pushed: u64) -> String {
        format!(
            "{:.0} leases ({:.2} per pushed MM, {:.0} empty, {:.1} items each), {:.0} deferred",
            self.leases,
            per(self.leases, pushed),
            self.empty_leases,
            if self.leases > 0.0 {
                self.items / self.leases
            } else {
                0.0
            },
            self.deferred
        )
    }
}

fn per(n: f64, pushed: u64) -> f64 {
    if pushed == 0 { 0.0 } else { n / pushed as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_over_labels_and_others_ignored() {
        let text = "# TYPE mmsrelay_outbox_leases_total counter\n\
                    mmsrelay_outbox_leases_total{worker=\"routing\"} 10\n\
                    mmsrelay_outbox_leases_total{worker=\"mm4-out\"} 5\n\
                    mmsrelay_outbox_empty_leases_total{worker=\"routing\"} 2\n\
                    mmsrelay_outbox_leased_items_total{worker=\"routing\"} 30\n\
                    mmsrelay_outbox_deferred_total{worker=\"mm4-out\"} 7\n\
                    mms_resolver_cache_hits_total 99\n";
        let c = QueueCounters::parse(text);
        assert_eq!(
            c,
            QueueCounters {
                leases: 15.0,
                empty_leases: 2.0,
                items: 30.0,
                deferred: 7.0
            }
        );
        let d = QueueCounters::between(Some(QueueCounters::default()), Some(c)).unwrap();
        assert!(
            d.text(3)
                .starts_with("15 leases (5.00 per pushed MM, 2 empty, 2.0 items each)")
        );
    }
}
