//! The enrollment page: what a browser opening the emailed link sees (`GET /enroll/{token}`
//! with an `Accept` that prefers HTML). A small self-contained page that greets the user
//! and posts the device form as JSON to the same URL; a refused link is a page with the
//! message. Every value from the store is HTML-escaped.

use http::HeaderMap;
use http::header::ACCEPT;
use provisioning::enrollment::EnrollmentInfo;
use provisioning::enrollment::template::escape_html;

/// Whether the request's `Accept` ranks `text/html` above JSON (a browser), rather than
/// equal or below (an API client, `*/*`, or no `Accept`: JSON).
pub(crate) fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html = 0.0f32;
    let mut json = 0.0f32;
    for accept in headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()) {
        for range in accept.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            match media.as_str() {
                "text/html" => html = html.max(q),
                "application/json" | "application/scim+json" | "application/*" => json = json.max(q),
                _ => {}
            }
        }
    }
    html > 0.0 && html > json
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
         label{{display:block;margin:.75rem 0 .25rem}}input,select,button{{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}}\
         button{{margin-top:1rem}}</style></head><body>{body}</body></html>\n",
        title = escape_html(title)
    )
}

/// The page for a working link: greeting, expiry, and the device form. The form posts
/// JSON to the page's own URL (the link), so the token is never copied anywhere else.
pub(crate) fn enrollment(info: &EnrollmentInfo) -> String {
    let product = escape_html(&info.product_name);
    let body = format!(
        "<h1>{product}</h1><p>Hello {name}, register a device for <strong>{user}</strong>.</p>\
         <p><small>This link works once, until {expires}.</small></p>\
         <form id=\"f\"><label for=\"n\">Device name</label><input id=\"n\" required maxlength=\"200\" value=\"My phone\">\
         <label for=\"t\">Device type</label><select id=\"t\"><option>PUSH</option><option>PHONE_ONLY</option>\
         <option>SECURITY_KEY</option><option>TOTP</option><option>HARDWARE_TOKEN</option></select>\
         <label for=\"p\">Platform</label><input id=\"p\" maxlength=\"200\" placeholder=\"iOS, Android, Windows…\">\
         <button>Enroll this device</button></form><p id=\"r\" role=\"status\"></p>\
         <script>document.getElementById('f').addEventListener('submit',async e=>{{e.preventDefault();\
         const r=document.getElementById('r');const body={{deviceName:document.getElementById('n').value,\
         deviceType:document.getElementById('t').value,platform:document.getElementById('p').value}};\
         try{{const res=await fetch(location.href,{{method:'POST',headers:{{'content-type':'application/json'}},body:JSON.stringify(body)}});\
         const j=await res.json();if(res.status===201){{e.target.hidden=true;r.textContent='Enrolled: '+j.deviceName+'. You can close this page.';}}\
         else{{r.textContent=j.detail||'The device could not be enrolled.';}}}}catch(_){{r.textContent='The service could not be reached; try again.';}}}});</script>",
        name = escape_html(&info.display_name),
        user = escape_html(&info.user_name),
        expires = escape_html(&info.expires_at),
    );
    page(&info.product_name, &body)
}

/// The page for a refused link: the message meant for the user.
pub(crate) fn refused(message: &str) -> String {
    page("Enrollment link", &format!("<h1>Enrollment link</h1><p>{}</p>", escape_html(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn browsers_get_html_and_api_clients_json() {
        assert!(prefers_html(&accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
        assert!(!prefers_html(&HeaderMap::new()));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&accept("application/json")));
        assert!(!prefers_html(&accept("text/html;q=0.5, application/json")));
        assert!(!prefers_html(&accept("text/html;q=0")));
    }

    #[test]
    fn values_are_escaped() {
        let info = EnrollmentInfo {
            user_id: "u".into(),
            user_name: "<script>alert(1)</script>".into(),
            display_name: "O'Brien & \"Co\"".into(),
            product_name: "Acme".into(),
            expires_at: "2026-01-01T00:00:00Z".into(),
        };
        let html = enrollment(&info);
        assert!(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)"));
        assert!(html.contains("O&#39;Brien &amp; &quot;Co&quot;"));
        assert!(refused("a < b").contains("a &lt; b"));
    }
}
