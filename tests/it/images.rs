//! Product photos: checked by content, resized, served, shown in the storefront.

use std::io::Cursor;

use reqwest::StatusCode;
use reqwest::blocking::multipart;

use crate::households::taer_member;
use crate::storefront::product_id;
use crate::support::{Browser, both_databases, csrf_token};

fn photo(format: image::ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    });
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encode");
    out.into_inner()
}

fn upload(browser: &Browser, product: i64, filename: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let page = browser.text(&format!("/team/products/{product}")).1;
    let token = csrf_token(&page).unwrap_or_default();
    let form = multipart::Form::new().text("csrf_token", token).part(
        "image",
        multipart::Part::bytes(bytes).file_name(filename.to_string()),
    );
    let res = browser
        .client
        .post(format!("{}/team/products/{product}/image", browser.base))
        .multipart(form)
        .send()
        .expect("upload");
    let status = res.status();
    (status, res.text().expect("page"))
}

fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).expect("a JPEG");
    (img.width(), img.height())
}

both_databases! {
    fn a_photo_is_resized_served_and_shown(app) {
        let team = app.signed_in("team@example.com");
        let flour = product_id(app, "huangmi-gaomian");
        let (status, _) = upload(&team, flour, "IMG_0001.png", photo(image::ImageFormat::Png, 2000, 1500));
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(app.count("product_images"), 1);
        assert_eq!(app.count(&format!("audit_log WHERE entity = 'product' AND entity_id = {flour} AND after_json LIKE '%image%'")), 1);

        let page = app.browser().text(&format!("/products/{flour}")).1;
        let at = page.find("/images/").expect("the product page shows the photo");
        let src = page[at..].split('"').next().expect("src").to_string();
        assert!(src.ends_with("/display.jpg"));
        let res = app.browser().get(&src);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        assert!(res.headers()["cache-control"].to_str().expect("header").contains("immutable"));
        assert_eq!(dimensions(&res.bytes().expect("jpeg")), (1200, 900), "display size keeps the aspect");
        let thumb = app.browser().get(&src.replace("display.jpg", "thumb.jpg")).bytes().expect("thumb");
        assert_eq!(dimensions(&thumb), (400, 300));
        let list = app.browser().text("/villages/yangzhouyao").1;
        assert!(list.contains(&src.replace("display.jpg", "thumb.jpg")), "cards show the thumbnail");
        let photo_id = src.trim_end_matches("/display.jpg");
        assert_eq!(page.matches(photo_id).count(), 1, "the product page shows its photo once");
        assert_eq!(list.matches(photo_id).count(), 1, "a card shows its photo once");
        let own = team.text(&format!("/team/products/{flour}")).1;
        assert_eq!(own.matches(photo_id).count(), 1, "the team's page shows the photo once");
        assert_eq!(own.matches("enctype=\"multipart/form-data\"").count(), 1, "and one upload form");

        // A WebP from a phone is accepted too.
        let (status, _) = upload(&team, flour, "photo.webp", photo(image::ImageFormat::WebP, 300, 300));
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(app.count("product_images"), 2);
        assert_eq!(app.browser().get("/images/0123/display.jpg").status(), StatusCode::NOT_FOUND);
    }

    fn files_that_are_not_photos_or_too_large_are_refused(app) {
        let team = app.signed_in("team@example.com");
        let flour = product_id(app, "huangmi-gaomian");
        let (status, html) = upload(&team, flour, "photo.jpg", b"this is a text file, not a JPEG".to_vec());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("只能上传 JPG、PNG 或 WebP 照片"), "checked by content, not by name");
        let mut big = photo(image::ImageFormat::Png, 64, 64);
        big.resize(10 * 1024 * 1024, 0);
        let (status, html) = upload(&team, flour, "big.png", big);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("照片不能超过 5 MB"));
        let (status, _) = upload(&team, flour, "huge.png", vec![0u8; 11 * 1024 * 1024]);
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "past the form's limit: refused unread");
        // A PNG header over broken data.
        let mut broken = photo(image::ImageFormat::Png, 64, 64);
        broken.truncate(60);
        let (status, html) = upload(&team, flour, "broken.png", broken);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("这张照片读不出来"));
        assert_eq!(app.count("product_images"), 0);
        assert_eq!(app.count(&format!("products WHERE id = {flour} AND image IS NULL")), 1);
    }

    fn another_villages_product_takes_no_photo(app) {
        let taer = taer_member(app);
        let flour = product_id(app, "huangmi-gaomian");
        let eggs = product_id(app, "jidan");
        let page = taer.text(&format!("/team/products/{eggs}")).1;
        let token = csrf_token(&page).expect("token");
        let form = multipart::Form::new()
            .text("csrf_token", token)
            .part("image", multipart::Part::bytes(photo(image::ImageFormat::Png, 10, 10)).file_name("a.png"));
        let res = taer.client.post(format!("{}/team/products/{flour}/image", taer.base)).multipart(form).send().expect("post");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.count("product_images"), 0);
    }
}
