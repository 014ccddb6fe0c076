//! The quick start without a mail server (issue 30): `tutela serve` writes its mails to the
//! outbox directory beside the database, and a person signs in with the code found there.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use super::{http, start, temp_dir};

/// A raw request; returns the status, the `Set-Cookie` pairs and the body.
fn send(port: u16, path: &str, cookie: &str, form: &str) -> (u16, Vec<String>, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let cookies = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .filter_map(|c| c.split(';').next())
        .map(str::to_owned)
        .collect();
    (status, cookies, body.to_owned())
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("file").permissions().mode() & 0o777
}

// covers: issue 30 defect 4
#[test]
fn without_smtp_a_person_signs_in_with_the_code_from_the_outbox() {
    let dir = temp_dir("outbox");
    let server = start(&dir, "sqlite://tutela.db");
    let token = std::fs::read_to_string(dir.join("tutela.token"))
        .expect("token")
        .trim()
        .to_owned();
    let (s, b) = http(
        server.port,
        "PUT",
        "/v1/subjects/Q-1",
        &token,
        r#"{"relationship":"customer","email":"quinn@example.org"}"#,
    );
    assert_eq!(s, 201, "{b}");
    let (s, cookies, body) = send(
        server.port,
        "/signin",
        "tutela_form=t",
        "csrf=t&email=quinn%40example.org",
    );
    assert_eq!(s, 200, "never a 503 without a mail server: {body}");
    let pending = cookies
        .iter()
        .find_map(|c| c.strip_prefix("tutela_signin="))
        .expect("pending cookie")
        .to_owned();
    let outbox = dir.join("tutela-outbox");
    let mut mail = None;
    for _ in 0..200 {
        mail = std::fs::read_dir(&outbox).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                .map(|e| e.path())
        });
        if mail.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mail = mail.expect("a mail in ./tutela-outbox");
    #[cfg(unix)]
    {
        assert_eq!(mode(&mail), 0o600);
        assert_eq!(mode(&outbox), 0o700);
        assert_eq!(mode(&dir.join("tutela-hmac.key")), 0o600);
    }
    let text = std::fs::read_to_string(&mail).expect("mail");
    assert!(text.contains("To: quinn@example.org"), "{text}");
    let at = text.find("Code: ").expect("code") + 6;
    let code = &text[at..at + 8];
    let (s, cookies, body) = send(
        server.port,
        "/signin/code",
        &format!("tutela_form=t; tutela_signin={pending}"),
        &format!("csrf=t&code={code}"),
    );
    assert_eq!(s, 303, "{body}");
    assert!(cookies.iter().any(|c| c.starts_with("tutela_session=")));
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
