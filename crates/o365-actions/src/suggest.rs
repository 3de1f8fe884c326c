//! Did-you-mean: the closest valid name to a mistyped one, by one rule everywhere.

/// The option closest to `given`, if one is close enough to be a likely typo. Case, `_`, `-` and
/// blanks do not matter, and a dotted name also matches by its last part (`sharepoint` finds
/// `Audit.SharePoint`).
pub fn closest<'a>(given: &str, options: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    const THRESHOLD: f64 = 0.8;
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
    let g = norm(given);
    options
        .into_iter()
        .map(|o| {
            let full = norm(o);
            let short = full.rsplit('.').next().unwrap_or(&full).to_string();
            let score = strsim::jaro_winkler(&g, &full).max(strsim::jaro_winkler(&g, &short));
            (score, o)
        })
        .filter(|(s, _)| *s >= THRESHOLD)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| o)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn typos_find_their_name_and_strangers_find_none() {
        let types = [
            "Audit.AzureActiveDirectory",
            "Audit.Exchange",
            "Audit.SharePoint",
            "Audit.General",
            "DLP.All",
        ];
        assert_eq!(closest("Audit.Exchnage", types), Some("Audit.Exchange"));
        assert_eq!(closest("sharepoint", types), Some("Audit.SharePoint"));
        assert_eq!(closest("pnig", ["ping", "list_content"]), Some("ping"));
        assert_eq!(
            closest("tenant", ["tenant_id", "client_id"]),
            Some("tenant_id")
        );
        assert_eq!(
            closest("gcc_high", ["commercial", "gcc", "gcc-high", "dod"]),
            Some("gcc-high")
        );
        assert_eq!(closest("zzzz", types), None);
    }
}
