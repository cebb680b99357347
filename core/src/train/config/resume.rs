//! What a resumption may change: the keys that may differ from the saved run, and the
//! differences named when others do.

use super::TrainConfig;

/// The keys that may differ between a run and its resumption: how long it trains, where
/// its data lives, and how the monitor measures it. Everything else must stay.
pub const RESUMABLE_CHANGES: &[&str] = &["epochs", "data_dir", "knn_every", "knn_k", "knn_temperature", "knn_features"];
impl TrainConfig {
    /// `self` as the configuration of a resumed run saved as `saved`: the defaults that
    /// resolution fills in (queue size, annealing length), where unset here, keep the
    /// values the run used, so that a longer run does not change them.
    pub fn continuing(&self, saved: &TrainConfig) -> TrainConfig {
        TrainConfig { queue: self.queue.or(saved.queue), anneal_epochs: self.anneal_epochs.or(saved.anneal_epochs), ..self.clone() }
    }

    /// The keys whose values differ between `self` (a run's saved configuration) and
    /// `now`, as `key (saved X, now Y)`, leaving out [`RESUMABLE_CHANGES`].
    pub fn changes_from(&self, now: &TrainConfig) -> Vec<String> {
        let (saved, now) = (to_map(self), to_map(now));
        let mut changes: Vec<String> = saved
            .iter()
            .filter(|(key, value)| !RESUMABLE_CHANGES.contains(&key.as_str()) && now.get(*key) != Some(value))
            .map(|(key, value)| {
                let now = now.get(key).map_or_else(|| "unset".to_string(), show);
                format!("{key} (saved {}, now {now})", show(value))
            })
            .collect();
        changes.sort();
        changes
    }
}

fn to_map(config: &TrainConfig) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => unreachable!("a TrainConfig serialises to a JSON object"),
    }
}

fn show(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "unset".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
