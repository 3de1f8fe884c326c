//! The connectors' worked examples (the integration's behaviour on three records), field by
//! field, with masking on and off; priorities, environments and entity keys.
#![allow(missing_docs)]

use o365_connectors::{audit_general, dlp, AuditParams, DlpParams, EnvironmentRule, Skip};
use serde_json::{json, Map, Value};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn exchange_dlp() -> Map<String, Value> {
    obj(
        json!({"CreationTime":"2024-05-14T09:21:37","Id":"5b0e3c6a-1111-4111-8111-111111111111","Operation":"DlpRuleMatch","RecordType":13,"UserKey":"DlpAgent",
     "Workload":"Exchange","UserId":"alice@contoso.com","IncidentId":"7f3c2a10-2222-4222-8222-222222222222",
     "ExchangeMetaData":{"MessageID":"<BN6PR11MB1234@contoso.com>","From":"alice@contoso.com","To":["bob@fabrikam.com"],"CC":[],"Subject":"Invoice May"},
     "PolicyDetails":[
      {"PolicyName":"U.S. Financial Data","Rules":[{"RuleName":"Low volume","Severity":"Low",
        "ConditionsMatched":{"SensitiveInformation":[{"SensitiveInformationTypeName":"Credit Card Number",
          "SensitiveInformationDetections":{"DetectedValues":[{"Name":"Credit Card Number","Value":"4111-1111-1111-1111"}],"ResultsTruncated":false}}]}}]},
      {"PolicyName":"PCI Block","Rules":[{"RuleName":"High volume","Severity":"High"}]}]}),
    )
}

fn sharepoint_dlp() -> Map<String, Value> {
    obj(
        json!({"CreationTime":"2024-05-14T11:05:09","Id":"c7d9e2f0-3333-4333-8333-333333333333","Operation":"DlpRuleMatch","RecordType":11,"Workload":"SharePoint",
     "UserId":"carol@contoso.com","IncidentId":"8a8a8a8a-4444-4444-8444-444444444444",
     "SharePointMetaData":{"FileName":"payroll.xlsx","SiteCollectionUrl":"https://contoso.sharepoint.com/sites/Fin","IsViewableByExternalUsers":false},
     "PolicyDetails":[{"PolicyName":"GDPR","Rules":[{"Severity":"Medium","ConditionsMatched":{"SensitiveInformation":[{"Count":3}]}}]}]}),
    )
}

fn alert_triggered() -> Map<String, Value> {
    obj(
        json!({"CreationTime":"2024-05-14T10:02:11","Id":"0d5e7a3b-5555-4555-8555-555555555555","Operation":"AlertTriggered","RecordType":40,"Workload":"SecurityComplianceCenter",
     "UserId":"SecurityComplianceAlerts","AlertId":"a1b2c3d4-6666-4666-8666-666666666666","AlertType":"System","Name":"Email messages containing malicious URL removed after delivery",
     "Category":"ThreatManagement","Severity":"Medium","Status":"Active","Source":"Office 365 Security & Compliance","Comments":"New alert",
     "Data":"{\"Severity\":\"High\",\"Entities\":[{\"$id\":\"1\",\"Type\":\"mailbox\",\"MailboxPrimaryAddress\":\"bob@contoso.com\"},{\"$id\":\"2\",\"Type\":\"mailMessage\",\"Sender\":\"billing@evil.example\",\"Urls\":[\"http://evil.example/a\"]},{\"$id\":\"3\",\"Type\":\"ip\",\"Address\":\"203.0.113.7\"},{\"$id\":\"4\",\"Type\":\"url\",\"Url\":\"http://evil.example/a\"}]}"}),
    )
}

const DV: &str = "PolicyDetails_Rules_1_ConditionsMatched_SensitiveInformation_1_SensitiveInformationDetections_DetectedValues_1";

#[test]
fn exchange_dlp_masked_as_the_connector_makes_it() {
    let p = DlpParams {
        mask: true,
        ..Default::default()
    };
    let a = dlp::alert(&exchange_dlp(), &p).unwrap().unwrap();
    assert_eq!(a.name, "Exchange DlpRuleMatch");
    assert_eq!(
        (a.description.as_str(), a.rule_generator.as_str()),
        ("Exchange DlpRuleMatch", "Exchange DlpRuleMatch")
    );
    assert_eq!(a.priority, 80);
    assert_eq!(
        a.source_grouping_identifier.as_deref(),
        Some("7f3c2a10-2222-4222-8222-222222222222")
    );
    assert_eq!((a.start_time, a.end_time), (1715678497000, 1715678497000));
    assert_eq!(
        (a.device_vendor, a.device_product),
        ("Microsoft", "Office 365 Management API")
    );
    assert_eq!(a.ticket_id, "5b0e3c6a-1111-4111-8111-111111111111");
    assert_eq!(a.events.len(), 2);
    for e in &a.events {
        assert_eq!(e["RecordType"], "13");
        assert_eq!(e["ExchangeMetaData_To_1"], "bob@fabrikam.com");
        assert_eq!(e["ExchangeMetaData_Subject"], "Invoice May");
        assert!(
            !e.keys().any(|k| k.starts_with("ExchangeMetaData_CC")),
            "CC vanishes"
        );
    }
    let e1 = &a.events[0];
    assert_eq!(e1["PolicyDetails_PolicyName"], "U.S. Financial Data");
    assert_eq!(e1["PolicyDetails_Rules_1_Severity"], "Low");
    assert_eq!(e1[&format!("{DV}_Name")], "XXXXXX XXXX XXXXXX");
    assert_eq!(e1[&format!("{DV}_Value")], "0000-0000-0000-0000");
    assert_eq!(
        e1["PolicyDetails_Rules_1_ConditionsMatched_SensitiveInformation_1_SensitiveInformationDetections_ResultsTruncated"],
        "False"
    );
    let e2 = &a.events[1];
    assert_eq!(e2["PolicyDetails_PolicyName"], "PCI Block");
    assert_eq!(e2["PolicyDetails_Rules_1_Severity"], "High");
    // Unmasked: the values as they are.
    let a = dlp::alert(&exchange_dlp(), &DlpParams::default())
        .unwrap()
        .unwrap();
    assert_eq!(a.events[0][&format!("{DV}_Value")], "4111-1111-1111-1111");
    assert_eq!(a.events[0][&format!("{DV}_Name")], "Credit Card Number");
    assert_eq!(a.priority, 80, "priority before masking, either way");
}

#[test]
fn sharepoint_dlp_and_its_policy_filter() {
    let a = dlp::alert(&sharepoint_dlp(), &DlpParams::default())
        .unwrap()
        .unwrap();
    assert_eq!(a.name, "SharePoint DlpRuleMatch");
    assert_eq!(a.priority, 60);
    assert_eq!(
        a.source_grouping_identifier.as_deref(),
        Some("8a8a8a8a-4444-4444-8444-444444444444")
    );
    assert_eq!(a.events.len(), 1);
    let e = &a.events[0];
    assert_eq!(e["SharePointMetaData_FileName"], "payroll.xlsx");
    assert_eq!(e["SharePointMetaData_IsViewableByExternalUsers"], "False");
    assert_eq!(e["PolicyDetails_PolicyName"], "GDPR");
    assert_eq!(
        e["PolicyDetails_Rules_1_ConditionsMatched_SensitiveInformation_1_Count"],
        "3"
    );
    let p = DlpParams {
        policy_filter: o365_connectors::filters::list("GDPR"),
        ..Default::default()
    };
    assert_eq!(
        dlp::alert(&sharepoint_dlp(), &p).unwrap(),
        None,
        "filtered: no alert"
    );
    let p = DlpParams {
        operation_filter: o365_connectors::filters::list("DlpRuleUndo, DlpRuleMatch"),
        ..Default::default()
    };
    assert_eq!(dlp::alert(&sharepoint_dlp(), &p).unwrap(), None);
}

#[test]
fn audit_general_alert_triggered_with_the_default_entity_keys() {
    let a = audit_general::alert(&alert_triggered(), &AuditParams::default())
        .unwrap()
        .unwrap();
    assert_eq!(a.name, "SecurityComplianceCenter, AlertTriggered");
    assert_eq!(a.priority, 60, "the top-level Medium beats Data's High");
    assert_eq!(a.source_grouping_identifier, None);
    assert_eq!((a.start_time, a.end_time), (1715680931000, 1715680931000));
    assert_eq!(a.events.len(), 4);
    let base = &a.events[0];
    assert_eq!(base["Severity"], "Medium");
    assert!(
        base["Data"].as_str().unwrap().starts_with("{\"Severity\""),
        "the raw Data stays"
    );
    assert_eq!(base["Entities_1_$id"], "1");
    assert_eq!(base["Entities_2_Urls_1"], "http://evil.example/a");
    assert_eq!(base["Entities_4_Type"], "url");
    assert_eq!(base["RecordType"], "40");
    assert_eq!(
        Value::Object(a.events[1].clone()),
        json!({"Type":"mailbox","MailboxPrimaryAddress":"bob@contoso.com","CreationTime":"2024-05-14T10:02:11","Operation":"mailbox","id":"1"})
    );
    assert_eq!(
        Value::Object(a.events[2].clone()),
        json!({"Type":"mailMessage","Sender":"billing@evil.example","Urls_1":"http://evil.example/a","CreationTime":"2024-05-14T10:02:11","Operation":"mailMessage","id":"2"})
    );
    assert_eq!(
        Value::Object(a.events[3].clone()),
        json!({"Type":"ip","Address":"203.0.113.7","CreationTime":"2024-05-14T10:02:11","Operation":"ip","id":"3"})
    );
    // Another entity-key list: only urls get an event.
    let p = AuditParams {
        entity_keys: o365_connectors::filters::list("url"),
        ..Default::default()
    };
    let a = audit_general::alert(&alert_triggered(), &p)
        .unwrap()
        .unwrap();
    assert_eq!(a.events.len(), 2);
    assert_eq!(a.events[1]["Url"], "http://evil.example/a");
}

#[test]
fn audit_filters_in_both_modes() {
    let r = alert_triggered();
    let with = |ops: &str, status: &str, whitelist: bool| AuditParams {
        operation_filter: o365_connectors::filters::list(ops),
        status_filter: o365_connectors::filters::list(status),
        whitelist,
        ..Default::default()
    };
    let made = |p: AuditParams| audit_general::alert(&r, &p).unwrap().is_some();
    assert!(
        !made(with("AlertTriggered", "", false)),
        "blacklisted operation"
    );
    assert!(made(with("AlertEntityGenerated", "", false)));
    assert!(!made(with("", "Active", false)), "blacklisted status");
    assert!(
        made(with("AlertTriggered", "Active", true)),
        "whitelisted both"
    );
    assert!(
        !made(with("AlertTriggered", "Resolved", true)),
        "status not whitelisted"
    );
    assert!(made(with("", "", true)), "empty lists filter nothing");
    // A record without Status fails a status whitelist.
    let mut no_status = r.clone();
    no_status.remove("Status");
    let p = with("", "Active", true);
    assert_eq!(audit_general::alert(&no_status, &p).unwrap(), None);
}

#[test]
fn priorities_for_every_severity() {
    for (s, want) in [
        ("Informational", -1),
        ("Low", 40),
        ("Medium", 60),
        ("High", 80),
        ("Critical", 100),
        ("Weird", 40),
        ("", 40),
    ] {
        let mut r = alert_triggered();
        r.insert("Severity".into(), json!(s));
        r.insert("Data".into(), json!("{}"));
        assert_eq!(
            audit_general::alert(&r, &AuditParams::default())
                .unwrap()
                .unwrap()
                .priority,
            want,
            "{s}"
        );
    }
    // An empty top-level Severity takes Data's.
    let mut r = alert_triggered();
    r.insert("Severity".into(), json!(""));
    assert_eq!(
        audit_general::alert(&r, &AuditParams::default())
            .unwrap()
            .unwrap()
            .priority,
        80
    );
    for (s, want) in [("Low", 40), ("Medium", 60), ("High", 80), ("Critical", 40)] {
        assert_eq!(dlp::priority(s), want, "{s}");
    }
}

#[test]
fn environments_from_a_field_and_a_pattern() {
    let rule = EnvironmentRule::new("UserId", r"@[a-z]+", "Default Environment").unwrap();
    let a = dlp::alert(
        &exchange_dlp(),
        &DlpParams {
            environment: rule,
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(a.environment, "@contoso");
    let rule = EnvironmentRule::new("UserId", ".*", "Default Environment").unwrap();
    assert_eq!(rule.of(&exchange_dlp()), "alice@contoso.com");
    let rule = EnvironmentRule::new("NoSuchField", ".*", "Default Environment").unwrap();
    assert_eq!(rule.of(&exchange_dlp()), "Default Environment");
    // Audit cannot see inside Data.
    let rule = EnvironmentRule::new("Entities", ".*", "Fallback").unwrap();
    assert_eq!(rule.of(&alert_triggered()), "Fallback");
    assert!(EnvironmentRule::new("UserId", "([", "x")
        .unwrap_err()
        .contains("Environment Regex Pattern"));
}

#[test]
fn bad_records_are_skips_not_stalls() {
    let mut r = alert_triggered();
    r.insert("Data".into(), json!("{not json"));
    assert!(matches!(
        audit_general::alert(&r, &AuditParams::default()),
        Err(Skip::Malformed { .. })
    ));
    r.insert("Data".into(), json!("{\"Entities\": 3}"));
    let e = audit_general::alert(&r, &AuditParams::default()).unwrap_err();
    assert!(e.to_string().contains("Entities"), "{e}");
    let mut d = exchange_dlp();
    d.remove("PolicyDetails");
    assert!(dlp::alert(&d, &DlpParams::default())
        .unwrap_err()
        .to_string()
        .contains("PolicyDetails"));
    let mut d = exchange_dlp();
    d.insert("PolicyDetails".into(), json!([{"PolicyName": "x"}]));
    assert!(dlp::alert(&d, &DlpParams::default())
        .unwrap_err()
        .to_string()
        .contains("no rule"));
    let mut d = exchange_dlp();
    d.remove("CreationTime");
    assert!(dlp::alert(&d, &DlpParams::default()).is_err());
}
