//! The connectors' filters, with their exact semantics: exact, case-sensitive list membership.
//! The platform's list filters `Workload` (usually empty: then it passes everything); the DLP
//! lists are blacklists; the Audit.General lists are blacklists, or whitelists when asked, and an
//! empty Audit list falls back to the platform's list.

/// A comma-separated parameter: each item trimmed, empty items kept; an empty value is no list.
pub fn list(param: &str) -> Vec<String> {
    if param.trim().is_empty() {
        return vec![];
    }
    param.split(',').map(|s| s.trim().to_string()).collect()
}

/// The platform's list on `Workload`: with a list, the workload must be on it (or, as a
/// blacklist, must not); without one, everything passes.
pub fn workload_passes(workload: &str, platform: &[String], as_blacklist: bool) -> bool {
    if platform.is_empty() {
        return true;
    }
    platform.iter().any(|w| w == workload) != as_blacklist
}

/// The Audit.General operation or status check: `value` (absent for records without it)
/// against `list`, or the platform's list when `list` is empty. As a whitelist an unlisted
/// value (or an absent one) fails; as a blacklist a listed one does.
pub fn audit_passes(
    value: Option<&str>,
    list: &[String],
    platform: &[String],
    whitelist: bool,
) -> bool {
    let list = if list.is_empty() { platform } else { list };
    if list.is_empty() {
        return true;
    }
    let listed = value.is_some_and(|v| list.iter().any(|x| x == v));
    if whitelist {
        listed
    } else {
        !listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_keep_empty_items_and_an_empty_value_is_none() {
        assert_eq!(list(""), Vec::<String>::new());
        assert_eq!(list("  "), Vec::<String>::new());
        assert_eq!(list(" a, ,b "), l(&["a", "", "b"]));
    }

    #[test]
    fn workload_both_modes() {
        assert!(workload_passes("Exchange", &[], false));
        assert!(workload_passes("Exchange", &[], true));
        assert!(workload_passes("Exchange", &l(&["Exchange"]), false));
        assert!(!workload_passes("SharePoint", &l(&["Exchange"]), false));
        assert!(!workload_passes("Exchange", &l(&["Exchange"]), true));
        assert!(workload_passes("SharePoint", &l(&["Exchange"]), true));
        // Exact and case-sensitive.
        assert!(!workload_passes("exchange", &l(&["Exchange"]), false));
    }

    #[test]
    fn audit_both_modes_and_the_empty_list_fallback() {
        let ops = l(&["AlertTriggered"]);
        assert!(!audit_passes(Some("AlertTriggered"), &ops, &[], false));
        assert!(audit_passes(Some("AlertEntityGenerated"), &ops, &[], false));
        assert!(audit_passes(Some("AlertTriggered"), &ops, &[], true));
        assert!(!audit_passes(Some("AlertEntityGenerated"), &ops, &[], true));
        // A missing Status fails a whitelist and passes a blacklist.
        assert!(!audit_passes(None, &l(&["Active"]), &[], true));
        assert!(audit_passes(None, &l(&["Active"]), &[], false));
        // An empty list: the platform's list, else everything.
        assert!(audit_passes(Some("x"), &[], &[], true));
        assert!(!audit_passes(Some("x"), &[], &l(&["y"]), true));
        assert!(audit_passes(Some("y"), &[], &l(&["y"]), true));
    }
}
