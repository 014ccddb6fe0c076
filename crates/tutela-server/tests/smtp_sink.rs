//! A real SMTP server on loopback that keeps every message it is given, for tests that read
//! the one-time code the way a person would.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let sink = SmtpSink {
            port,
            mails: Arc::default(),
        };
        let mails = sink.mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mails = mails.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let mut to = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                            b"250 ok\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = w.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            mails.lock().expect("lock").push(Mail {
                                to: std::mem::take(&mut to),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        let _ = w.write_all(reply).await;
                    }
                });
            }
        });
        sink
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("lock").clone()
    }

    /// The 8-digit code in the last mail to `to`.
    pub fn code_for(&self, to: &str) -> Option<String> {
        let mails = self.mails();
        let mail = mails.iter().rev().find(|m| m.to.iter().any(|t| t == to))?;
        let i = mail.data.find("Code: ")? + "Code: ".len();
        Some(mail.data[i..i + 8].to_owned())
    }

    /// How many mails went to `to` so far.
    pub fn count_to(&self, to: &str) -> usize {
        self.mails()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .count()
    }

    /// The code of the first mail to `to` after `before` of them, waiting up to 10 s for it:
    /// sign-in mails leave after the answer.
    pub async fn wait_code_for(&self, to: &str, before: usize) -> Option<String> {
        for _ in 0..200 {
            if self.count_to(to) > before {
                return self.code_for(to);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    pub fn mailer(&self) -> std::sync::Arc<dyn tutela_runtime::requests::mailer::Mailer> {
        std::sync::Arc::new(
            tutela_runtime::requests::mailer::SmtpMailer::new(
                &tutela_runtime::requests::mailer::SmtpSettings {
                    host: "127.0.0.1".into(),
                    port: self.port,
                    security: "none".into(),
                    username: None,
                    password: None,
                    from: "Datenschutz <privacy@example.org>".into(),
                },
            )
            .expect("mailer"),
        )
    }
}
