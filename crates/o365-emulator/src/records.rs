//! The records the integration's connectors read: `DLP.All` matches (Exchange with its message,
//! SharePoint and OneDrive with their file; rule severities Low to High; detected values) and
//! `Audit.General`'s Security & Compliance alerts (severity, status, category, and `Data` with
//! its entities, `$ref` stubs included), beside Teams and Power BI records. Each is written
//! without its closing brace: the caller pads it and closes it.

use std::fmt::Write as _;

use crate::content::{event_id, mix};

/// What every record of one event shares.
pub(crate) struct Ctx<'a> {
    pub(crate) when: &'a str,
    pub(crate) id: &'a str,
    pub(crate) org: &'a str,
    pub(crate) user: &'a str,
    pub(crate) upn: &'a str,
    pub(crate) ip: &'a str,
    pub(crate) domain: &'a str,
    /// The event's hash: every choice below is a function of it.
    pub(crate) h: u64,
    /// Whether the record is one the connectors cannot turn into an alert.
    pub(crate) malformed: bool,
}

impl Ctx<'_> {
    fn pick<'b, T: ?Sized>(&self, salt: u64, from: &'b [&'b T]) -> &'b T {
        from[(mix(self.h ^ salt) % from.len() as u64) as usize]
    }
    fn guid(&self, salt: u64) -> String {
        event_id(mix(self.h ^ salt))
    }
}

const SEVERITIES: [&str; 3] = ["Low", "Medium", "High"];

/// One policy match: its rules' severity and, when `values`, the detected values.
fn policy(c: &Ctx, salt: u64, name: &str, severity: &str, values: bool) -> String {
    let detections = if values {
        let card = format!(
            "4{:03}-{:04}-{:04}-{:04}",
            mix(c.h ^ salt) % 1000,
            mix(c.h ^ salt ^ 1) % 10_000,
            mix(c.h ^ salt ^ 2) % 10_000,
            mix(c.h ^ salt ^ 3) % 10_000
        );
        format!(
            r#","SensitiveInformationDetections":{{"DetectedValues":[{{"Name":"Credit Card Number","Value":"{card}"}}],"ResultsTruncated":false}},"SensitiveInformationTypeName":"Credit Card Number""#
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"PolicyId":"{}","PolicyName":"{name}","Rules":[{{"RuleId":"{}","RuleName":"{severity} volume of content detected","RuleMode":"Enable","Severity":"{severity}","Actions":["NotifyUser"],"ConditionsMatched":{{"SensitiveInformation":[{{"Confidence":85,"Count":1,"SensitiveType":"50842eb7-edc8-4019-85dd-5a5c1f2bb085"{detections}}}]}}}}]}}"#,
        c.guid(salt ^ 0x51),
        c.guid(salt ^ 0x52),
    )
}

/// A `DLP.All` record.
pub(crate) fn dlp(s: &mut String, c: &Ctx) {
    let (rt, wl) = *c.pick(
        0x21,
        &[&(13, "Exchange"), &(11, "SharePoint"), &(11, "OneDrive")],
    );
    let sev = c.pick(0x22, &SEVERITIES);
    let mut policies = vec![policy(c, 0x23, "U.S. Financial Data", sev, rt == 13)];
    // One match in five names a second policy.
    if mix(c.h ^ 0x24).is_multiple_of(5) {
        policies.push(policy(c, 0x25, "PCI Block", "High", false));
    }
    let (id, org, upn, when) = (c.id, c.org, c.upn, c.when);
    let _ = write!(
        s,
        r#"{{"CreationTime":"{when}","Id":"{id}","Operation":"DlpRuleMatch","OrganizationId":"{org}","RecordType":{rt},"UserKey":"DlpAgent","UserType":4,"Version":1,"Workload":"{wl}","ObjectId":"{}","UserId":"{upn}","IncidentId":"{}","SensitiveInfoDetectionIsIncluded":{}"#,
        c.guid(0x26),
        c.guid(0x27),
        rt == 13,
    );
    if !c.malformed {
        let _ = write!(s, r#","PolicyDetails":[{}]"#, policies.join(","));
    }
    if rt == 13 {
        let to = c.pick(0x28, &["bob", "dana", "erin"]);
        let subject = c.pick(0x29, &["Invoice May", "Card details", "Payment run"]);
        let _ = write!(
            s,
            r#","ExchangeMetaData":{{"BCC":[],"CC":[],"FileSize":{},"From":"{upn}","MessageID":"<{:016x}@{}>","RecipientCount":1,"Sent":"{when}","Subject":"{subject}","To":["{to}@fabrikam.com"],"UniqueID":"{}"}}"#,
            20_000 + mix(c.h ^ 0x2a) % 80_000,
            mix(c.h ^ 0x2b),
            c.domain,
            c.guid(0x2c)
        );
    } else {
        let host = c.domain.split('.').next().unwrap_or("contoso");
        let file = c.pick(0x2d, &["payroll.xlsx", "Customers.docx", "cards.csv"]);
        let site = if wl == "OneDrive" {
            format!("https://{host}-my.sharepoint.com/personal/{}", c.user)
        } else {
            format!("https://{host}.sharepoint.com/sites/Finance")
        };
        let _ = write!(
            s,
            r#","SharePointMetaData":{{"FileName":"{file}","FileOwner":"{}","From":"{upn}","ItemCreationTime":"{when}","SiteCollectionUrl":"{site}","UniqueID":"{}","IsViewableByExternalUsers":{}}}"#,
            c.user,
            c.guid(0x2e),
            mix(c.h ^ 0x2f).is_multiple_of(4)
        );
    }
}

/// An `Audit.General` record: a Security & Compliance alert one time in three, else Teams or
/// Power BI activity.
pub(crate) fn general(s: &mut String, c: &Ctx) {
    let (id, org, upn, when, ip) = (c.id, c.org, c.upn, c.when, c.ip);
    let kind = if c.malformed { 0 } else { mix(c.h ^ 0x31) % 6 };
    match kind {
        0 | 1 => {
            let op = c.pick(0x32, &["AlertTriggered", "AlertEntityGenerated"]);
            let sev = c.pick(0x33, &["Informational", "Low", "Medium", "High"]);
            let status = c.pick(0x34, &["Active", "Investigating", "Resolved"]);
            let (name, category) = *c.pick(
                0x35,
                &[
                    &(
                        "Email messages containing malicious URL removed after delivery",
                        "ThreatManagement",
                    ),
                    &(
                        "Suspicious email sending patterns detected",
                        "ThreatManagement",
                    ),
                    &("Unusual external user file activity", "DataGovernance"),
                ],
            );
            let data = serde_json::json!({
                "Severity": c.pick(0x36, &["Low", "Medium", "High"]),
                "Entities": [
                    {"$id": "1", "Type": "mailbox", "MailboxPrimaryAddress": upn},
                    {"$id": "2", "Type": "mailMessage", "Sender": "billing@evil.example", "Recipient": upn, "Urls": ["http://evil.example/a"]},
                    {"$id": "3", "Type": "ip", "Address": ip},
                    {"$id": "4", "Type": "url", "Url": "http://evil.example/a"},
                    {"$ref": "1"}
                ]
            })
            .to_string();
            // A malformed one: `Data` cut short, no longer JSON.
            let data = if c.malformed {
                &data[..data.len() / 2]
            } else {
                &data
            };
            let data = serde_json::Value::String(data.into()).to_string();
            let _ = write!(
                s,
                r#"{{"CreationTime":"{when}","Id":"{id}","Operation":"{op}","OrganizationId":"{org}","RecordType":40,"ResultStatus":"Succeeded","UserKey":"SecurityComplianceAlerts","UserType":4,"Version":1,"Workload":"SecurityComplianceCenter","ObjectId":"{}","UserId":"SecurityComplianceAlerts","AlertId":"{}","AlertLinks":[],"AlertType":"System","Name":"{name}","PolicyId":"{}","Status":"{status}","Severity":"{sev}","Category":"{category}","Source":"Office 365 Security & Compliance","Comments":"New alert","Data":{data}"#,
                c.guid(0x37),
                c.guid(0x37),
                c.guid(0x38),
            );
        }
        2 => {
            let report = c.pick(0x39, &["Sales", "Headcount", "Pipeline"]);
            let _ = write!(
                s,
                r#"{{"CreationTime":"{when}","Id":"{id}","Operation":"ViewReport","OrganizationId":"{org}","RecordType":20,"UserKey":"{:016}","UserType":0,"Version":1,"Workload":"PowerBI","UserId":"{upn}","ClientIP":"{ip}","UserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","Activity":"ViewReport","ItemName":"{report}","WorkSpaceName":"Finance","DatasetName":"{report}","ReportName":"{report}","WorkspaceId":"{}","ObjectId":"{report}","DatasetId":"{}","ReportId":"{}","ReportType":"PowerBIReport","DistributionMethod":"Workspace","ConsumptionMethod":"Power BI Web""#,
                mix(c.h ^ 0x3a) % 10_000_000_000_000_000,
                c.guid(0x3b),
                c.guid(0x3c),
                c.guid(0x3d),
            );
        }
        _ => {
            let op = c.pick(0x3e, &["MemberAdded", "TeamCreated"]);
            let team = mix(c.h ^ 0x3f) % 50;
            let _ = write!(
                s,
                r#"{{"CreationTime":"{when}","Id":"{id}","Operation":"{op}","OrganizationId":"{org}","RecordType":25,"UserKey":"{}","UserType":0,"Version":1,"Workload":"MicrosoftTeams","UserId":"{upn}","ClientIP":"{ip}","TeamGuid":"19:{:016x}@thread.skype","TeamName":"Project {team}","ItemName":"Project {team}","Members":[{{"DisplayName":"{}","Role":1,"UPN":"{upn}"}}]"#,
                c.guid(0x40),
                mix(c.h ^ 0x41),
                c.user,
            );
        }
    }
}
