use o365_actions::config::{Loader, Source};
use o365_actions::result::Status;

use crate::{ctx, Env};

const SECRET: &str = "s3cr3t-value-that-must-not-leak";

fn write(dir: &std::path::Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
    p
}

#[test]
fn precedence_flags_over_env_over_soar_over_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "tenant_id = \"file-tenant.onmicrosoft.com\"\nclient_id = \"file-client\"\ncloud = \"gcc\"\nverify_ssl = false\nscopes = [\"A\", \"B\"]\n",
        0o600,
    );
    let soar = write(
        dir.path(),
        "soar.json",
        r#"{"Azure Active Directory ID": "soar-tenant.onmicrosoft.com", "Client ID": "soar-client", "Verify SSL": "true", "Client Secret": ""}"#,
        0o600,
    );
    let mut l = Loader::new();
    l.toml_file(&file).unwrap();
    l.soar_file(&soar).unwrap();
    l.env([
        ("O365_CLIENT_ID".to_string(), "env-client".to_string()),
        ("UNRELATED".to_string(), "x".to_string()),
    ]);
    l.set("client_id", "flag-client", Source::Flag("--client-id"));
    let s = l.resolve().unwrap();
    assert_eq!(s.client_id.as_ref().unwrap().value, "flag-client");
    assert_eq!(
        s.client_id.as_ref().unwrap().source,
        Source::Flag("--client-id")
    );
    assert_eq!(
        s.tenant_id.as_ref().unwrap().value,
        "soar-tenant.onmicrosoft.com"
    );
    assert_eq!(
        s.tenant_id.as_ref().unwrap().source,
        Source::SoarConfig(soar.clone())
    );
    assert!(
        s.verify_ssl.value,
        "the export's \"true\" wins over the file's false"
    );
    assert_eq!(
        s.api_root.value, "https://manage-gcc.office.com",
        "derived from the file's cloud"
    );
    assert_eq!(s.api_root.source, Source::Cloud);
    assert_eq!(s.scopes.value, vec!["A", "B"]);
    assert!(s.client_secret.is_none(), "an empty export value is unset");
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn soar_export_runs_against_the_emulator() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let env = Env::new().await;
        let i = env.emu.info();
        let dir = tempfile::tempdir().unwrap();
        let soar = write(
            dir.path(),
            "soar.json",
            &serde_json::json!({
                "Api Root": i.api_root,
                "OAUTH2 Login Endpoint Url": i.login_endpoint,
                "Azure Active Directory ID": i.tenant_id,
                "Client ID": i.client_id,
                "Client Secret": i.client_secret,
                "Certificate Path": "",
                "Certificate Password": "",
                "Verify SSL": "true",
            })
            .to_string(),
            0o600,
        );
        let mut l = Loader::new();
        l.soar_file(&soar).unwrap();
        let r = o365_actions::Runner::new(l.resolve().unwrap(), None, "test")
            .ping(ctx("p"))
            .await;
        assert_eq!(r.status, Status::Completed, "{}", r.output_message);
        assert!(r.result_value);
    });
}

#[test]
fn certificate_from_config_signs_in() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let env = Env::new().await;
        let pfx = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/app.pfx");
        let mut l = env.loader(&[
            ("certificate_path", pfx),
            ("certificate_password", "emulator"),
        ]);
        // The secret wins when both are set; without it, the certificate is used.
        let with_both = l.resolve().unwrap();
        assert!(format!("{:?}", with_both.client().unwrap()).contains("Secret"));
        l = Loader::new();
        let i = env.emu.info();
        for (k, v) in [
            ("api_root", i.api_root.as_str()),
            ("login_endpoint", i.login_endpoint.as_str()),
            ("tenant_id", i.tenant_id.as_str()),
            ("client_id", i.client_id.as_str()),
            ("certificate_path", pfx),
            ("certificate_password", "emulator"),
        ] {
            l.set(k, v, Source::Flag("test"));
        }
        let r = o365_actions::Runner::new(l.resolve().unwrap(), None, "test")
            .ping(ctx("p"))
            .await;
        assert!(r.result_value, "{}", r.output_message);
    });
}

#[test]
fn errors_name_the_field_value_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "c.toml", "tenant = \"x\"\n", 0o600);
    let e = Loader::new().toml_file(&f).unwrap_err().to_string();
    assert!(
        e.contains("unknown key \"tenant\" (did you mean \"tenant_id\"?)"),
        "{e}"
    );

    let mut l = Loader::new();
    l.set("cloud", "gcc_hi", Source::Env("O365_CLOUD"));
    let e = l.resolve().unwrap_err().to_string();
    assert!(
        e.contains("cloud = \"gcc_hi\" (from env O365_CLOUD)"),
        "{e}"
    );
    assert!(e.contains("did you mean \"gcc-high\""), "{e}");

    let mut l = Loader::new();
    l.set(
        "api_root",
        "http://manage.example.com",
        Source::Flag("--api-root"),
    );
    let e = l.resolve().unwrap_err().to_string();
    assert!(e.contains("api_root") && e.contains("https"), "{e}");

    let mut l = Loader::new();
    l.set("tenant_id", "contoso.onmicrosoft.com", Source::Default);
    l.set("client_id", "abc", Source::Default);
    let e = l.resolve().unwrap().client().unwrap_err().to_string();
    assert!(
        e.contains("Either Certificate Path or Client Secret has to be specified."),
        "{e}"
    );

    let e = Loader::new()
        .resolve()
        .unwrap()
        .client()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tenant_id") && e.contains("O365_TENANT_ID"),
        "{e}"
    );
}

#[test]
fn secrets_are_redacted_and_readable_files_warned() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "c.toml",
        &format!(
            "tenant_id = \"t.onmicrosoft.com\"\nclient_id = \"c\"\nclient_secret = \"{SECRET}\"\n"
        ),
        0o644,
    );
    let mut l = Loader::new();
    l.toml_file(&f).unwrap();
    let s = l.resolve().unwrap();
    #[cfg(unix)]
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("other users can read it") && w.contains("chmod 600")),
        "{:?}",
        s.warnings
    );
    let shown = serde_json::to_string(&s.show()).unwrap();
    assert!(shown.contains("[redacted]"));
    assert!(!shown.contains(SECRET));
    assert!(!format!("{s:?}").contains(SECRET));
    assert!(!format!("{:?}", s.client().unwrap()).contains(SECRET));

    // A private file gets no warning.
    let f = write(
        dir.path(),
        "p.toml",
        &format!("client_secret = \"{SECRET}\"\n"),
        0o600,
    );
    let mut l = Loader::new();
    l.toml_file(&f).unwrap();
    assert!(l.resolve().unwrap().warnings.is_empty());

    // A bad secret type is reported without its value.
    let f = write(dir.path(), "b.toml", "client_secret = [\"x\"]\n", 0o600);
    let e = Loader::new().toml_file(&f).unwrap_err().to_string();
    assert!(e.contains("[redacted]"), "{e}");
}

#[test]
fn tenants_inherit_connection_settings_and_keep_their_own_identity() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = write(dir.path(), "fab.secret", "fabrikam-secret\n", 0o600);
    std::env::set_var("O365_TEST_NORTHWIND_SECRET", "northwind-secret");
    let f = write(
        dir.path(),
        "t.toml",
        &format!(
            r#"
cloud = "gcc"
requests_per_minute = 500
tenant_id = "default.onmicrosoft.com"
client_id = "top-client"
client_secret = "{SECRET}"

[[tenants]]
name = "fabrikam"
tenant_id = "fabrikam.onmicrosoft.com"
client_id = "fab-client"
client_secret_file = "{}"
content_types = ["DLP.All", "audit.general"]

[[tenants]]
name = "northwind"
tenant_id = "northwind.onmicrosoft.com"
client_id = "nw-client"
client_secret_env = "O365_TEST_NORTHWIND_SECRET"
requests_per_minute = 100
"#,
            secret_file.display()
        ),
        0o600,
    );
    let mut l = Loader::new();
    l.toml_file(&f).unwrap();
    assert_eq!(l.tenant_names(), ["default", "fabrikam", "northwind"]);
    let fleet = l.resolve_all().unwrap();
    let fab = fleet.get("fabrikam").unwrap();
    assert_eq!(
        fab.cloud.value.name(),
        "gcc",
        "connection settings are inherited"
    );
    assert_eq!(fab.requests_per_minute.value, 500);
    assert_eq!(fab.client_id.as_ref().unwrap().value, "fab-client");
    use secrecy::ExposeSecret as _;
    assert_eq!(
        fab.secret().unwrap().unwrap().value.expose_secret(),
        "fabrikam-secret"
    );
    assert_eq!(
        fab.content_types.value,
        [
            o365_api::ContentType::DlpAll,
            o365_api::ContentType::General
        ]
    );
    let nw = fleet.get("northwind").unwrap();
    assert_eq!(
        nw.requests_per_minute.value, 100,
        "a tenant's own value wins"
    );
    assert_eq!(
        nw.secret().unwrap().unwrap().value.expose_secret(),
        "northwind-secret"
    );
    assert!(!format!("{fleet:?}").contains("northwind-secret"));
    let def = fleet.get("default").unwrap();
    assert_eq!(def.client_id.as_ref().unwrap().value, "top-client");
    assert_eq!(def.content_types.value.len(), 5);

    // Several tenants: one is chosen by name (a typo gets a did-you-mean), or `default`.
    let one = |name: Option<&str>| {
        let mut l = Loader::new();
        l.toml_file(&f).unwrap();
        if let Some(n) = name {
            l.select(n);
        }
        l.resolve()
    };
    assert_eq!(one(None).unwrap().name, "default");
    assert_eq!(one(Some("northwind")).unwrap().name, "northwind");
    let e = one(Some("northwnd")).unwrap_err().to_string();
    assert!(
        e.contains("did you mean \"northwind\"") && e.contains("fabrikam"),
        "{e}"
    );

    // Mistakes are named.
    for (text, want) in [
        (
            "[[tenants]]\nname = \"a\"\nstate = \"x\"\n",
            "at the top level",
        ),
        (
            "[[tenants]]\nname = \"a\"\n[[tenants]]\nname = \"a\"\n",
            "unique",
        ),
        ("[[tenants]]\ntenant_id = \"x\"\n", "needs a name"),
        ("[[tenants]]\nname = \"bad name\"\n", "letters, digits"),
        (
            "[[tenants]]\nname = \"a\"\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"0b8e6d2c-5a4f-4e3b-9c1d-2f7a8b9c0d1e\"\nclient_secret_env = \"O365_TEST_UNSET_VAR\"\n",
            "O365_TEST_UNSET_VAR",
        ),
        (
            "[[tenants]]\nname = \"a\"\ncontent_types = [\"Audit.Exchnage\"]\n",
            "Did you mean Audit.Exchange?",
        ),
        ("tenants = 3\n", "array of tables"),
    ] {
        let g = write(dir.path(), "bad.toml", text, 0o600);
        let mut l = Loader::new();
        let e = match l.toml_file(&g) {
            Err(e) => e.to_string(),
            Ok(()) => match l.resolve_all() {
                Err(e) => e.to_string(),
                // A secret that cannot be had fails the tenant's client, not the configuration.
                Ok(f) => f.tenants[0].client().unwrap_err().to_string(),
            },
        };
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn a_secret_given_twice_in_one_layer_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "tenant_id = \"t.onmicrosoft.com\"\nclient_id = \"c\"\nclient_secret = \"inline-secret-value\"\nclient_secret_env = \"SOME_SECRET_VAR\"\n",
        0o600,
    );
    let load = || {
        let mut l = Loader::new();
        l.toml_file(&file).unwrap();
        l
    };
    let e = match load().resolve() {
        Ok(s) => s.secret().unwrap_err(),
        Err(e) => e,
    };
    assert!(
        e.field.contains("client_secret") && e.field.contains("client_secret_env"),
        "{e}"
    );
    assert!(e.problem.contains("keep one"), "{e}");
    // From two layers, the higher one wins: a flag's secret over the file's two.
    let mut l = load();
    l.set(
        "client_secret",
        "flag-secret-value",
        Source::Flag("--client-secret"),
    );
    let s = l.resolve().unwrap();
    let secret = s.secret().unwrap().unwrap();
    assert_eq!(secret.source, Source::Flag("--client-secret"));
}

#[test]
fn one_tenant_configured_twice_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "t.toml",
        r#"
client_id = "c"
client_secret = "s"

[[tenants]]
name = "lower"
tenant_id = "7c1e3a52-9d4b-4f0e-8a61-3b2d5e6f7a80"

[[tenants]]
name = "upper"
tenant_id = " 7C1E3A52-9D4B-4F0E-8A61-3B2D5E6F7A80"
"#,
        0o600,
    );
    let mut l = Loader::new();
    l.toml_file(&f).unwrap();
    let e = l.resolve_all().unwrap_err().to_string();
    assert!(
        e.contains("lower and upper are the same tenant") && e.contains("collected twice"),
        "{e}"
    );
}

/// The defaults the help shows (the keys table) are the ones a configuration without them
/// gets: for every key whose documented default is a value (not a phrase such as "from the
/// cloud"), what `config show` shows when it is unset.
#[test]
fn the_defaults_in_the_help_are_the_defaults_applied() {
    let mut l = Loader::new();
    for (k, v) in [
        ("tenant_id", "contoso.onmicrosoft.com"),
        ("client_id", "0b8e6d2c-5a4f-4e3b-9c1d-2f7a8b9c0d1e"),
        ("client_secret", SECRET),
    ] {
        l.set(k, v, Source::Flag("test"));
    }
    let s = l.resolve().unwrap();
    let shown = s.show();
    let mut checked = 0;
    for k in o365_actions::config::KEYS {
        let Some(default) = k.default_shown().filter(|d| !d.contains(' ')) else {
            continue;
        };
        let v = shown.iter().find(|v| v.key == k.name).unwrap();
        assert_eq!(
            v.value.as_deref(),
            Some(default.as_str()),
            "{}: the help says {default}, an unset one is {:?}",
            k.name,
            v.value
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} defaults are values");
    assert!(shown.iter().any(|v| v.key == "requests_per_minute"
        && v.value == Some(o365_api::DEFAULT_REQUESTS_PER_MINUTE.to_string())));
}

#[test]
fn every_setting_given_is_read_into_its_field_and_shown_back() {
    let given = [
        ("cloud", "gcc"),
        ("api_root", "https://manage.example.test"),
        ("login_endpoint", "https://login.example.test"),
        ("graph_root", "https://graph.example.test"),
        ("tenant_id", "contoso.onmicrosoft.com"),
        ("client_id", "0b8e6d2c-5a4f-4e3b-9c1d-2f7a8b9c0d1e"),
        ("client_secret", SECRET),
        ("client_secret_file", "/run/secrets/o365"),
        ("client_secret_env", "MY_SECRET"),
        ("certificate_path", "/etc/o365/cert.pfx"),
        ("certificate_password", SECRET),
        ("backfill_since", "90d"),
        ("repair_gaps", "yes"),
        ("verify_ssl", "off"),
        ("ca_file", "/etc/o365/ca.pem"),
        ("proxy", "http://user:pw-that-must-not-leak@127.0.0.1:3128"),
        ("publisher_id", "1f2e3d4c-5b6a-4789-8abc-def012345678"),
        ("content_types", "DLP.All, Audit.General"),
        ("scopes", "All entities, Suspicious entities"),
        ("state", "/var/lib/o365mgmt/state.sqlite"),
        ("requests_per_minute", "600"),
        ("timeout_secs", "15"),
    ];
    assert_eq!(given.len(), o365_actions::config::KEYS.len(), "every key");
    let mut l = Loader::new();
    for (k, v) in given {
        l.set(k, v, Source::Flag("test"));
    }
    let s = l.resolve().unwrap();
    let debug = format!("{s:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("pw-that"),
        "{debug}"
    );
    let shown = s.show();
    for (k, v) in given {
        let row = shown.iter().find(|r| r.key == k).unwrap();
        assert_eq!(row.source, "flag test", "{k}");
        let value = row.value.clone().unwrap();
        match k {
            "client_secret" | "certificate_password" => assert_eq!(value, "[redacted]"),
            "proxy" => assert!(value.starts_with("http://") && !value.contains("pw-that")),
            "backfill_since" => assert_eq!(value, "90d 0h 0m"),
            "repair_gaps" => assert_eq!(value, "true"),
            "verify_ssl" => assert_eq!(value, "false"),
            "content_types" => assert_eq!(value, "DLP.All, Audit.General"),
            _ => assert_eq!(value, v, "{k}"),
        }
    }
    assert_eq!(s.cloud.value.name(), "gcc");
    assert_eq!(s.api_root.value, "https://manage.example.test");
    assert_eq!(s.login_endpoint.value, "https://login.example.test");
    assert_eq!(s.graph_root.unwrap().value, "https://graph.example.test");
    assert_eq!(s.client_secret_env.unwrap().value, "MY_SECRET");
    assert_eq!(
        s.certificate_path.unwrap().value,
        std::path::Path::new("/etc/o365/cert.pfx")
    );
    assert_eq!(s.backfill_since.unwrap().value, chrono::Duration::days(90));
    assert!(s.repair_gaps.value && !s.verify_ssl.value);
    assert_eq!(s.content_types.value.len(), 2);
    assert_eq!(s.scopes.value, ["All entities", "Suspicious entities"]);
    assert_eq!(s.requests_per_minute.value, 600);
    assert_eq!(s.timeout.value, std::time::Duration::from_secs(15));
}
