//! Validation of the emulator's configuration: every value checked, and the error names the
//! field, the value, what is allowed and the fix.

use super::{ConfigError, EmulatorConfig, FaultConfig, DEFAULT_TENANT_ID};
use crate::content::ContentType;

impl EmulatorConfig {
    /// Check every value; the error names the field, the value, what is allowed and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if self.api.page_size == 0 {
            return err("api.page_size = 0: must be at least 1".into());
        }
        let h = self.api.next_page_header.to_ascii_lowercase();
        if h != "nextpageuri" && h != "nextpageurl" {
            return err(format!(
                "api.next_page_header = {:?}: allowed are \"NextPageUri\" or \"NextPageUrl\"",
                self.api.next_page_header
            ));
        }
        if self.data.blob_interval_secs == 0 {
            return err("data.blob_interval_secs = 0: must be at least 1 second".into());
        }
        if self.data.events_per_blob == 0 {
            return err("data.events_per_blob = 0: a blob holds at least 1 event".into());
        }
        for (name, v) in [
            ("data.duplicate_rate", self.data.duplicate_rate),
            ("data.late_rate", self.data.late_rate),
            ("data.malformed_rate", self.data.malformed_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return err(format!("{name} = {v}: must be between 0.0 and 1.0"));
            }
        }
        self.faults.validate().map_err(ConfigError)?;
        if self.throttle.status != 403 && self.throttle.status != 429 {
            return err(format!(
                "throttle.status = {}: allowed are 403 (as documented) or 429",
                self.throttle.status
            ));
        }
        if self.tenants.is_empty() {
            return err("tenants: at least one tenant is needed".into());
        }
        for (i, t) in self.tenants.iter().enumerate() {
            if !is_guid(&t.id) {
                return err(format!(
                    "tenants[{i}].id = {:?}: must be a GUID like {DEFAULT_TENANT_ID}",
                    t.id
                ));
            }
            if self.tenants[..i]
                .iter()
                .any(|o| o.id.eq_ignore_ascii_case(&t.id))
            {
                return err(format!("tenants[{i}].id = {:?}: listed twice", t.id));
            }
            if t.region.is_empty() || !t.region.chars().all(|c| c.is_ascii_alphanumeric()) {
                return err(format!(
                    "tenants[{i}].region = {:?}: letters and digits only, e.g. \"emea0026\"",
                    t.region
                ));
            }
            for (j, a) in t.apps.iter().enumerate() {
                if !is_guid(&a.client_id) {
                    return err(format!(
                        "tenants[{i}].apps[{j}].client_id = {:?}: must be a GUID",
                        a.client_id
                    ));
                }
            }
            for (j, s) in t.subscriptions.iter().enumerate() {
                if ContentType::parse(&s.content_type, true).is_none() {
                    return err(format!(
                        "tenants[{i}].subscriptions[{j}].content_type = {:?}: allowed are {}",
                        s.content_type,
                        ContentType::ALL.map(|c| c.as_str()).join(", ")
                    ));
                }
                if !s.enabled_hours_ago.is_finite() || s.enabled_hours_ago < 0.0 {
                    return err(format!(
                        "tenants[{i}].subscriptions[{j}].enabled_hours_ago = {}: must be 0 or more",
                        s.enabled_hours_ago
                    ));
                }
            }
        }
        Ok(())
    }
}

impl FaultConfig {
    /// Check that every rate is within 0–1 and that they add up to at most 1.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("rate_429", self.rate_429),
            ("rate_500", self.rate_500),
            ("rate_503", self.rate_503),
            ("rate_drop", self.rate_drop),
        ];
        for (name, v) in rates {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("faults.{name} = {v}: must be between 0.0 and 1.0"));
            }
        }
        let lost = self.notification_drop_rate;
        if !(0.0..=1.0).contains(&lost) {
            return Err(format!(
                "faults.notification_drop_rate = {lost}: must be between 0.0 and 1.0"
            ));
        }
        if let Some(bad) = self
            .script
            .iter()
            .find(|c| ![0, 403, 408, 429, 500, 503].contains(*c))
        {
            return Err(format!(
                "faults.script contains {bad}: allowed are 0 (drop), 403, 408, 429, 500, 503"
            ));
        }
        let sum: f64 = rates.iter().map(|r| r.1).sum();
        if sum > 1.0 {
            return Err(format!(
                "faults: the rates add up to {sum}, more than 1.0; lower some of them"
            ));
        }
        Ok(())
    }
}

/// True for a GUID in the 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}
