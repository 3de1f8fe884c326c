//! Deterministic audit content: blobs on a time grid, content ids, and realistic events.
//!
//! A blob exists for (tenant, content type, slot) when its `contentCreated` falls inside an
//! interval during which the subscription was enabled. Everything about it (its creation time,
//! whether it is late, which events it holds) is a pure function of the seed and those keys, so the
//! ground-truth manifest can be computed without serving anything.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};

pub use o365_vocab::ContentType;

/// A content type's number in the seed's mix.
fn index(ct: ContentType) -> u64 {
    ct as u64
}

/// A content type's name as the throttling message's `Method=` writes it.
fn id_token(ct: ContentType) -> String {
    ct.as_str().replace('.', "_")
}

/// Mix 64 bits (splitmix64 finaliser): the one source of pseudo-randomness.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D4_9BB1_3311_EB0B);
    z ^ (z >> 31)
}

/// Hash a list of words together.
pub fn hash(words: &[u64]) -> u64 {
    words.iter().fold(0x243F_6A88_85A3_08D3, |h, w| mix(h ^ w))
}

/// Hash a string to 64 bits (FNV-1a then mixed).
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.to_ascii_lowercase().bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    mix(h)
}

/// A fraction in [0, 1) from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Identifies one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlobKey {
    /// Index of the tenant in the configuration.
    pub tenant: usize,
    /// Content type.
    pub content_type: ContentType,
    /// Slot number on the time grid.
    pub slot: i64,
}

/// Static facts about one potential blob.
#[derive(Debug, Clone)]
pub struct BlobFacts {
    /// The key.
    pub key: BlobKey,
    /// `contentCreated`, in milliseconds since the epoch.
    pub created_ms: i64,
    /// When the blob becomes listable, in milliseconds since the epoch.
    pub available_ms: i64,
    /// Whether it repeats events of the previous slot.
    pub duplicates_previous: bool,
}

/// Generates blobs and events from the seed.
#[derive(Debug, Clone)]
pub struct Generator {
    /// Seed of everything.
    pub seed: u64,
    /// Slot length in milliseconds.
    pub interval_ms: i64,
    /// Events per blob.
    pub events_per_blob: u32,
    /// Target event size.
    pub event_size: usize,
    /// Whether records longer than `event_size` are shortened.
    pub trim_events: bool,
    /// Fraction of duplicating blobs.
    pub duplicate_rate: f64,
    /// Events repeated from the previous blob.
    pub duplicate_events: u32,
    /// Fraction of late blobs.
    pub late_rate: f64,
    /// Fraction of connector records that make no alert.
    pub malformed_rate: f64,
    /// Delay of late blobs in milliseconds.
    pub late_delay_ms: i64,
    /// Longest event latency in seconds.
    pub latency_max_secs: u64,
}

/// A tenant as seen by the generator.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    /// Tenant GUID (lower case).
    pub id: String,
    /// Domain for user names.
    pub domain: String,
    /// Region token for content ids.
    pub region: String,
    /// Stable hash of the tenant id.
    pub hash: u64,
}

impl Generator {
    /// Facts of the blob in `slot`.
    pub fn facts(&self, tenant: &TenantInfo, key: BlobKey) -> BlobFacts {
        let h = hash(&[
            self.seed,
            tenant.hash,
            index(key.content_type),
            key.slot as u64,
        ]);
        let jitter = (mix(h) % self.interval_ms as u64) as i64;
        let created_ms = key.slot * self.interval_ms + jitter;
        let late = unit(mix(h ^ 0x1a7e)) < self.late_rate;
        let duplicates_previous = unit(mix(h ^ 0xd0b1e)) < self.duplicate_rate;
        BlobFacts {
            key,
            created_ms,
            available_ms: if late {
                created_ms + self.late_delay_ms
            } else {
                created_ms
            },
            duplicates_previous,
        }
    }

    /// Slots whose `contentCreated` may fall within `[start_ms, end_ms)`.
    pub fn slots_between(&self, start_ms: i64, end_ms: i64) -> std::ops::Range<i64> {
        start_ms.div_euclid(self.interval_ms)..end_ms.div_euclid(self.interval_ms) + 1
    }

    /// The content id of a blob: `{T1}${T2}${type lower}${Type}${region}`.
    pub fn content_id(&self, tenant: &TenantInfo, f: &BlobFacts) -> String {
        let t = stamp14(f.created_ms);
        let ms = f.created_ms.rem_euclid(1000);
        let h = hash(&[self.seed, tenant.hash, f.key.slot as u64, 77]);
        let tok = id_token(f.key.content_type);
        format!(
            "{t}{ms:03}{:06}${t}{:09}${}${tok}${}",
            h % 1_000_000,
            mix(h) % 1_000_000_000,
            tok.to_ascii_lowercase(),
            tenant.region
        )
    }

    /// Decode a content id back to its blob, checking that it belongs to `tenant`.
    pub fn parse_content_id(&self, tenant: &TenantInfo, tenant_index: usize, id: &str) -> ParsedId {
        let parts: Vec<&str> = id.split('$').collect();
        if parts.len() < 5 || parts[0].len() != 23 || parts[1].len() != 23 {
            return ParsedId::Invalid;
        }
        let Some(ct) = ContentType::ALL
            .into_iter()
            .find(|c| id_token(*c) == parts[3])
        else {
            return ParsedId::Invalid;
        };
        let Some(created_ms) = parse_stamp(&parts[0][..17]) else {
            return ParsedId::Invalid;
        };
        let slot = created_ms.div_euclid(self.interval_ms);
        let key = BlobKey {
            tenant: tenant_index,
            content_type: ct,
            slot,
        };
        let h = hash(&[self.seed, tenant.hash, slot as u64, 77]);
        if parts[1][14..] != format!("{:09}", mix(h) % 1_000_000_000) {
            // Minted for another tenant.
            return ParsedId::Invalid;
        }
        let f = self.facts(tenant, key);
        if f.created_ms != created_ms {
            return ParsedId::Unknown;
        }
        if self.content_id(tenant, &f) != id {
            // Well-formed, but minted for another tenant (or tampered with).
            return ParsedId::Invalid;
        }
        ParsedId::Blob(f)
    }

    /// Ids of the events a blob holds, in order (its own events, then any repeated ones).
    pub fn event_ids(&self, tenant: &TenantInfo, f: &BlobFacts, prev_exists: bool) -> Vec<String> {
        let mut out = Vec::with_capacity(self.events_per_blob as usize + 4);
        for i in 0..self.events_per_blob {
            out.push(event_id(self.event_hash(tenant, f.key, i)));
        }
        if f.duplicates_previous && prev_exists {
            let prev = BlobKey {
                slot: f.key.slot - 1,
                ..f.key
            };
            for i in 0..self.duplicate_events.min(self.events_per_blob) {
                out.push(event_id(self.event_hash(tenant, prev, i)));
            }
        }
        out
    }

    /// The hash behind event `i` of the blob in `key`'s slot (its `Id` is [`event_id`] of it).
    pub fn event_hash_of(&self, tenant: &TenantInfo, key: BlobKey, i: u32) -> u64 {
        self.event_hash(tenant, key, i)
    }

    fn event_hash(&self, tenant: &TenantInfo, key: BlobKey, i: u32) -> u64 {
        hash(&[
            self.seed,
            tenant.hash,
            index(key.content_type),
            key.slot as u64,
            i as u64,
        ])
    }

    /// Serialise a whole blob: a JSON array of events.
    pub fn blob_json(&self, tenant: &TenantInfo, f: &BlobFacts, prev_exists: bool) -> Vec<u8> {
        let n = self.events_per_blob as usize;
        let mut s = String::with_capacity((n + 4) * (self.event_size + 64));
        s.push('[');
        let mut first = true;
        let mut push = |s: &mut String, key: BlobKey, created_ms: i64, i: u32| {
            if !first {
                s.push(',');
            }
            first = false;
            self.write_event(s, tenant, key, created_ms, i);
        };
        for i in 0..self.events_per_blob {
            push(&mut s, f.key, f.created_ms, i);
        }
        if f.duplicates_previous && prev_exists {
            let prev_key = BlobKey {
                slot: f.key.slot - 1,
                ..f.key
            };
            let prev = self.facts(tenant, prev_key);
            for i in 0..self.duplicate_events.min(self.events_per_blob) {
                push(&mut s, prev_key, prev.created_ms, i);
            }
        }
        s.push(']');
        s.into_bytes()
    }

    /// The `CreationTime` (seconds) of event `i` of the blob in `key`'s slot, created at
    /// `created_ms`: some seconds before the blob.
    pub fn event_secs(&self, t: &TenantInfo, key: BlobKey, created_ms: i64, i: u32) -> i64 {
        let h = self.event_hash(t, key, i);
        created_ms / 1000 - (mix(h ^ 1) % (self.latency_max_secs.max(1))) as i64
    }

    /// Write one event; the same inputs always give the same bytes.
    pub(crate) fn write_event(
        &self,
        s: &mut String,
        t: &TenantInfo,
        key: BlobKey,
        created_ms: i64,
        i: u32,
    ) {
        let h = self.event_hash(t, key, i);
        let start = s.len();
        let id = event_id(h);
        let when = fmt_creation_time(self.event_secs(t, key, created_ms, i));
        let user = USERS[(mix(h ^ 2) % USERS.len() as u64) as usize];
        let ip = format!(
            "203.0.113.{}",
            1 + mix(h ^ 3) % 254 // documentation range (RFC 5737)
        );
        let upn = format!("{user}@{}", t.domain);
        let r = mix(h ^ 4);
        let org = &t.id;
        match key.content_type {
            ContentType::AzureActiveDirectory => {
                let (op, rt) = [
                    ("UserLoggedIn", 15),
                    ("UserLoginFailed", 15),
                    ("Add user.", 8),
                ][(r % 3) as usize];
                let _ = write!(
                    s,
                    r#"{{"CreationTime":"{when}","Id":"{id}","Operation":"{op}","OrganizationId":"{org}","RecordType":{rt},"ResultStatus":"{}","UserKey":"{}","UserType":0,"Version":1,"Workload":"AzureActiveDirectory","ClientIP":"{ip}","ObjectId":"00000003-0000-0000-c000-000000000000","UserId":"{upn}","AzureActiveDirectoryEventType":1,"ExtendedProperties":[{{"Name":"ResultStatusDetail","Value":"Success"}},{{"Name":"UserAgent","Value":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}},{{"Name":"RequestType","Value":"OAuth2:Authorize"}}],"ModifiedProperties":[],"Actor":[{{"ID":"{}","Type":0}},{{"ID":"{upn}","Type":5}}],"ActorContextId":"{org}","ActorIpAddress":"{ip}","InterSystemsId":"{}","IntraSystemId":"{id}","SupportTicketId":"","Target":[{{"ID":"00000003-0000-0000-c000-000000000000","Type":0}}],"TargetContextId":"{org}","ApplicationId":"89bee1f7-5e6e-4d8a-9f3d-ecd601259da7""#,
                    if op == "UserLoginFailed" {
                        "Failed"
                    } else {
                        "Success"
                    },
                    event_id(mix(h ^ 5)),
                    event_id(mix(h ^ 5)),
                    event_id(mix(h ^ 6)),
                );
            }
            ContentType::Exchange => {
                let (op, rt) =
                    [("Set-Mailbox", 1), ("MailItemsAccessed", 50), ("Send", 2)][(r % 3) as usize];
                // Admin cmdlets report "True"; mailbox operations "Succeeded".
                let result = if rt == 1 { "True" } else { "Succeeded" };
                let _ = write!(
                    s,
                    r#"{{"CreationTime":"{when}","Id":"{id}","Operation":"{op}","OrganizationId":"{org}","RecordType":{rt},"ResultStatus":"{result}","UserKey":"{}","UserType":0,"Version":1,"Workload":"Exchange","ClientIP":"{ip}","ObjectId":"{upn}","UserId":"{upn}","AppId":"","ClientAppId":"","ExternalAccess":false,"OrganizationName":"{}","OriginatingServer":"HE1PR0102MB3228 (15.20.225.32)","MailboxGuid":"{}","MailboxOwnerUPN":"{upn}","LogonType":0,"InternalLogonType":0,"ClientInfoString":"Client=OWA;Action=ViaProxy","Parameters":[{{"Name":"Identity","Value":"{user}"}}]"#,
                    r % 100_000_000_000,
                    t.domain,
                    event_id(mix(h ^ 7)),
                );
            }
            ContentType::SharePoint => {
                let op = [
                    "FileAccessed",
                    "FileModified",
                    "FileDownloaded",
                    "SharingSet",
                ][(r % 4) as usize];
                let file = format!("report-{}.docx", r % 997);
                let tenant_host = t.domain.split('.').next().unwrap_or("contoso");
                // Sharing operations have their own record type.
                let rt = if op == "SharingSet" { 14 } else { 6 };
                let _ = write!(
                    s,
                    r#"{{"CreationTime":"{when}","Id":"{id}","Operation":"{op}","OrganizationId":"{org}","RecordType":{rt},"UserKey":"i:0h.f|membership|{:016x}@live.com","UserType":0,"Version":1,"Workload":"OneDrive","ClientIP":"{ip}","ObjectId":"https://{tenant_host}-my.sharepoint.com/personal/{user}/Documents/{file}","UserId":"{upn}","CorrelationId":"{}","EventSource":"SharePoint","ItemType":"File","ListId":"{}","ListItemUniqueId":"{}","Site":"{}","WebId":"{}","SiteUrl":"https://{tenant_host}-my.sharepoint.com/personal/{user}/","SourceRelativeUrl":"Documents","SourceFileName":"{file}","SourceFileExtension":"docx","UserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)""#,
                    mix(h ^ 8),
                    event_id(mix(h ^ 9)),
                    event_id(mix(h ^ 10)),
                    event_id(mix(h ^ 11)),
                    event_id(mix(h ^ 12)),
                    event_id(mix(h ^ 13)),
                );
            }
            ContentType::General | ContentType::DlpAll => {
                let c = crate::records::Ctx {
                    when: &when,
                    id: &id,
                    org,
                    user,
                    upn: &upn,
                    ip: &ip,
                    domain: &t.domain,
                    h,
                    malformed: ((mix(h ^ 0x50) % 1_000_000) as f64)
                        < self.malformed_rate * 1_000_000.0,
                };
                if key.content_type == ContentType::DlpAll {
                    crate::records::dlp(s, &c);
                } else {
                    crate::records::general(s, &c);
                }
            }
        }
        // Pad to the configured size by lengthening a free-text field the record really has.
        let used = s.len() - start;
        if used + 20 < self.event_size {
            let pad = (self.event_size - used - 2).min(crate::padding::PAD_LEN / 2);
            let text = crate::padding::pad_text();
            let at = (mix(h ^ 20) % (crate::padding::PAD_LEN - pad) as u64) as usize;
            crate::padding::pad_field(s, start, &text[at..at + pad]);
        } else if self.trim_events && used > self.event_size {
            crate::trim::trim_record(s, start, self.event_size);
        }
        s.push('}');
    }
}

const USERS: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];

/// Result of decoding a content id.
#[derive(Debug)]
pub enum ParsedId {
    /// Not a content id of this tenant.
    Invalid,
    /// Well-formed, but no blob was ever made with it.
    Unknown,
    /// A blob of this tenant (it may not exist if the subscription was off then).
    Blob(BlobFacts),
}

/// Format a hash as a GUID-shaped id.
pub fn event_id(h: u64) -> String {
    let g = mix(h ^ 0x5eed);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        (h as u16 & 0x0fff) | 0x4000,
        ((g >> 48) as u16 & 0x3fff) | 0x8000,
        g & 0xffff_ffff_ffff
    )
}

/// `yyyyMMddHHmmss` for a time in milliseconds.
fn stamp14(ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parse `yyyyMMddHHmmssfff` back to milliseconds.
fn parse_stamp(s: &str) -> Option<i64> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| s[a..b].parse::<u32>().ok();
    let d = chrono::NaiveDate::from_ymd_opt(n(0, 4)? as i32, n(4, 6)?, n(6, 8)?)?;
    let t = d.and_hms_milli_opt(n(8, 10)?, n(10, 12)?, n(12, 14)?, n(14, 17)?)?;
    Some(t.and_utc().timestamp_millis())
}

/// Event `CreationTime`: `YYYY-MM-DDTHH:MM:SS`, no zone.
fn fmt_creation_time(secs: i64) -> String {
    let t = Utc
        .timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH);
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `contentCreated` style: ISO-8601 with milliseconds and `Z`.
pub fn fmt_content_time(ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen() -> (Generator, TenantInfo) {
        (
            Generator {
                seed: 7,
                interval_ms: 300_000,
                events_per_blob: 5,
                event_size: 1024,
                trim_events: false,
                duplicate_rate: 1.0,
                duplicate_events: 2,
                late_rate: 0.0,
                malformed_rate: 0.0,
                late_delay_ms: 0,
                latency_max_secs: 100,
            },
            TenantInfo {
                id: "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80".into(),
                domain: "contoso.onmicrosoft.com".into(),
                region: "emea0026".into(),
                hash: hash_str("7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80"),
            },
        )
    }

    #[test]
    fn content_id_round_trips_and_rejects_other_tenants() {
        let (g, t) = gen();
        for ct in ContentType::ALL {
            let key = BlobKey {
                tenant: 0,
                content_type: ct,
                slot: 5_900_000,
            };
            let f = g.facts(&t, key);
            let id = g.content_id(&t, &f);
            assert_eq!(id.split('$').count(), 5, "{id}");
            match g.parse_content_id(&t, 0, &id) {
                ParsedId::Blob(b) => assert_eq!(b.key, key),
                other => panic!("{other:?}"),
            }
            let other = TenantInfo {
                hash: hash_str("x"),
                ..t.clone()
            };
            assert!(matches!(
                g.parse_content_id(&other, 0, &id),
                ParsedId::Invalid
            ));
        }
        assert!(matches!(
            g.parse_content_id(&t, 0, "nonsense"),
            ParsedId::Invalid
        ));
    }

    #[test]
    fn blobs_are_valid_json_with_the_listed_ids() {
        let (g, t) = gen();
        for ct in ContentType::ALL {
            let f = g.facts(
                &t,
                BlobKey {
                    tenant: 0,
                    content_type: ct,
                    slot: 5_900_001,
                },
            );
            let bytes = g.blob_json(&t, &f, true);
            let v: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
            let ids: Vec<String> = v.iter().map(|e| e["Id"].as_str().unwrap().into()).collect();
            assert_eq!(ids, g.event_ids(&t, &f, true));
            assert_eq!(ids.len(), 7);
            let size = bytes.len() / v.len();
            assert!((900..1300).contains(&size), "{ct:?} event size {size}");
            assert_eq!(v[0]["CreationTime"].as_str().unwrap().len(), 19);
        }
    }

    #[test]
    fn trimmed_events_are_smaller_and_keep_what_collectors_read() {
        let (mut g, t) = gen();
        g.event_size = 500;
        g.trim_events = true;
        let mut sizes = Vec::new();
        for ct in ContentType::ALL {
            for slot in 5_900_001..5_900_021 {
                let key = BlobKey {
                    tenant: 0,
                    content_type: ct,
                    slot,
                };
                let f = g.facts(&t, key);
                let v: Vec<serde_json::Value> =
                    serde_json::from_slice(&g.blob_json(&t, &f, true)).unwrap();
                assert_eq!(
                    v.iter()
                        .map(|e| e["Id"].as_str().unwrap().to_string())
                        .collect::<Vec<_>>(),
                    g.event_ids(&t, &f, true)
                );
                for e in &v {
                    for k in [
                        "CreationTime",
                        "Id",
                        "Operation",
                        "RecordType",
                        "Workload",
                        "UserId",
                    ] {
                        assert!(e.get(k).is_some(), "{ct:?}: {k} missing from {e}");
                    }
                    let n = serde_json::to_string(e).unwrap().len();
                    assert!(n <= 520, "{ct:?}: {n} bytes: {e}");
                    sizes.push(n);
                }
            }
        }
        let mean = sizes.iter().sum::<usize>() / sizes.len();
        assert!((380..=500).contains(&mean), "mean event size {mean}");
    }
}
