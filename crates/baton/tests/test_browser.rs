//! `baton serve`'s page in a real browser: headless Chromium driven through chromedriver.

use serde_json::json;

use crate::common::browser::Browser;

/// The harness itself: Chromium starts, runs script, clicks, types and takes a screenshot.
#[test]
fn browser_harness_drives_chromium() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let page = "<meta name=viewport content=\"width=device-width\"><button id=b>go</button><input id=i><p id=o></p>\
                <script>b.onclick = () => o.textContent = 'clicked ' + i.value;</script>";
    browser.goto(&format!("data:text/html,{}", page.replace('#', "%23")));
    browser.type_into(&browser.wait_find("#i", 10), "hello");
    browser.click(&browser.wait_find("#b", 10));
    browser.wait_text("#o", 10, "the click", |t| t == "clicked hello");
    browser.viewport(390, 844, true);
    assert_eq!(
        browser.js("return window.innerWidth;", json!([])),
        json!(390)
    );
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("shot.png");
    browser.screenshot(&png);
    assert!(std::fs::metadata(&png).unwrap().len() > 100);
}

#[test]
fn base64_decodes_as_the_standard_says() {
    use crate::common::browser::decode_base64;
    assert_eq!(decode_base64("aGVsbG8="), b"hello");
    assert_eq!(decode_base64("aGVsbG8h"), b"hello!");
    assert_eq!(decode_base64("aGk="), b"hi");
    assert_eq!(decode_base64("+/8A\n"), [0xfb, 0xff, 0x00]);
}
