//! Nothing a request sends can take the server down (issue #13, items 1 and 2): uploads
//! and registers are measured before they are read, against the register's real limits,
//! with the memory of a real server process watched while they are refused; and text
//! with control characters, or too long, is a 400 naming the field on both databases,
//! never a database error.

use std::io::{Cursor, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::multipart;

use crate::cli::village_market;
use crate::households::{upload, village_id};
use crate::support::{
    Browser, FreshDatabase, PASSWORD, TestApp, both_backends, both_databases, csrf_token,
};
use village_market::db::Backend;

/// The real binary serving a database in a process of its own, so that its memory can
/// be read from `/proc` while it is sent things.
struct Server {
    child: Child,
    base: String,
    // Dropped after the server is stopped.
    database: FreshDatabase,
}

/// Memory of a process, in kB, from `/proc/<pid>/status`: now and at its highest.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss_kb: u64,
    peak_kb: u64,
}

impl Server {
    fn start(backend: Backend) -> Server {
        let database = FreshDatabase::with(backend, crate::support::Contents::Demo);
        let port = crate::support::free_port();
        let child = village_market(
            &database.url,
            &database.dir,
            &["serve", "--bind", &format!("127.0.0.1:{port}")],
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("the server starts");
        let base = format!("http://127.0.0.1:{port}");
        let server = Server {
            child,
            base,
            database,
        };
        let client = reqwest::blocking::Client::new();
        crate::support::wait_until("the server answers", Duration::from_secs(30), || {
            client
                .get(format!("{}/healthz", server.base))
                .send()
                .is_ok_and(|r| r.status().is_success())
        });
        server
    }

    /// Starts the peak over from the present (`clear_refs`, see proc(5)).
    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")
            .expect("the peak can be reset");
    }

    fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server process is alive");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{name} in {status}"))
        };
        Memory {
            rss_kb: field("VmRSS:"),
            peak_kb: field("VmHWM:"),
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("status").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How far a request may raise the server's peak memory.
const MAX_GROWTH_KB: u64 = 64 * 1024;

/// Sends `send` to the server and measures how far its memory rose above what it held
/// before (the peak is started over first), printing the figures; the server must still
/// be running afterwards.
fn measured<T>(server: &mut Server, what: &str, send: impl FnOnce() -> T) -> T {
    server.reset_peak();
    let before = server.memory();
    let result = send();
    assert!(server.alive(), "{what}: the server is still running");
    let after = server.memory();
    let growth = after.peak_kb.saturating_sub(before.rss_kb);
    eprintln!(
        "memory {what}: peak {} kB -> {} kB (+{} kB), rss {} kB -> {} kB",
        before.peak_kb, after.peak_kb, growth, before.rss_kb, after.rss_kb
    );
    assert!(
        growth < MAX_GROWTH_KB,
        "{what}: the server's peak memory grew by {growth} kB"
    );
    result
}

/// An XLSX whose only cells are a header at A1 and `x` at `last` (row, column from 0):
/// a few kB that declare a sheet as large as that cell.
fn sparse_xlsx(last: (u32, u16)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "户编号").expect("A1");
    sheet.write_string(last.0, last.1, "x").expect("far cell");
    book.save_to_buffer().expect("xlsx")
}

/// One file of a zip written by hand, so that its declared size can differ from what it
/// unpacks to.
struct ZipEntry {
    name: String,
    /// 0 stored, 8 deflated.
    method: u16,
    crc: u32,
    packed: Vec<u8>,
    declared_size: u32,
}

fn write_zip(entries: &[ZipEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let name = e.name.as_bytes();
        let fields = |v: &mut Vec<u8>| {
            v.extend(20u16.to_le_bytes()); // version needed
            v.extend(0u16.to_le_bytes()); // flags
            v.extend(e.method.to_le_bytes());
            v.extend(0u32.to_le_bytes()); // time, date
            v.extend(e.crc.to_le_bytes());
            v.extend((e.packed.len() as u32).to_le_bytes());
            v.extend(e.declared_size.to_le_bytes());
            v.extend((name.len() as u16).to_le_bytes());
            v.extend(0u16.to_le_bytes()); // extra
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        fields(&mut out);
        out.extend(name);
        out.extend(&e.packed);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes()); // version made by
        fields(&mut central);
        central.extend(0u16.to_le_bytes()); // comment
        central.extend(0u16.to_le_bytes()); // disk
        central.extend(0u16.to_le_bytes()); // internal attributes
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name);
    }
    let central_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disks
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(central_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// Raw deflate of `data` from an empty window, ending in a full flush (or the final
/// block): pieces made so can be laid end to end.
fn deflate_piece(data: &[u8], last: bool) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let flush = if last {
        flate2::FlushCompress::Finish
    } else {
        flate2::FlushCompress::Full
    };
    let mut out = Vec::with_capacity(data.len() / 100 + 1024);
    loop {
        let consumed = compress.total_in() as usize;
        let status = compress
            .compress_vec(&data[consumed..], &mut out, flush)
            .expect("deflate");
        if compress.total_in() as usize == data.len()
            && (status == flate2::Status::StreamEnd || (!last && out.len() < out.capacity()))
        {
            return out;
        }
        out.reserve(out.capacity().max(1024));
    }
}

/// A real workbook whose sheet is one text cell of 1 GiB: about 1 MB packed. The sheet
/// declares `declared` bytes, its true size unless `declared` says otherwise.
fn zip_bomb_xlsx(declared: Option<u32>) -> Vec<u8> {
    const CHUNK: usize = 1024 * 1024;
    const CHUNKS: usize = 1024;
    let base = sparse_xlsx((1, 1));
    let mut archive = zip::ZipArchive::new(Cursor::new(base)).expect("a zip");
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).expect("entry");
        let name = file.name().expect("name").to_string();
        if name == "xl/worksheets/sheet1.xml" {
            continue;
        }
        let mut data = Vec::new();
        file.read_to_end(&mut data).expect("read");
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        entries.push(ZipEntry {
            name,
            method: 0,
            crc: crc.sum(),
            declared_size: data.len() as u32,
            packed: data,
        });
    }
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet \
        xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>\
        <row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>户编号</t></is></c></row>\
        <row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>";
    let tail = "</t></is></c></row></sheetData></worksheet>";
    let chunk = vec![b'A'; CHUNK];
    let (mut crc, mut chunk_crc, mut tail_crc) =
        (flate2::Crc::new(), flate2::Crc::new(), flate2::Crc::new());
    crc.update(head.as_bytes());
    chunk_crc.update(&chunk);
    tail_crc.update(tail.as_bytes());
    for _ in 0..CHUNKS {
        crc.combine(&chunk_crc);
    }
    crc.combine(&tail_crc);
    let chunk_packed = deflate_piece(&chunk, false);
    let mut packed = deflate_piece(head.as_bytes(), false);
    for _ in 0..CHUNKS {
        packed.extend_from_slice(&chunk_packed);
    }
    packed.extend(deflate_piece(tail.as_bytes(), true));
    let size = head.len() + CHUNK * CHUNKS + tail.len();
    entries.push(ZipEntry {
        name: "xl/worksheets/sheet1.xml".into(),
        method: 8,
        crc: crc.sum(),
        packed,
        declared_size: declared.unwrap_or(size as u32),
    });
    write_zip(&entries)
}

/// A CSV of `rows` rows of 10,000 columns, under the upload limit (about 9.5 MB).
fn wide_csv(rows: usize) -> Vec<u8> {
    let mut header = String::from("户编号,户主姓名,常住人口,类别");
    for i in 4..10_000 {
        header.push_str(&format!(",c{i}"));
    }
    header.push('\n');
    let mut csv = header.into_bytes();
    let row = format!("{}\n", vec!["1"; 10_000].join(","));
    for _ in 0..rows {
        csv.extend_from_slice(row.as_bytes());
    }
    csv
}

/// The multipart body of an import form: a token, a village, then `files` file parts
/// of `size` bytes each, made as they are sent.
struct ImportBody {
    prefix: Cursor<Vec<u8>>,
    files_left: usize,
    size: usize,
    sent_of_file: usize,
    part_head: Vec<u8>,
    head_sent: usize,
    end: Cursor<Vec<u8>>,
}

const BOUNDARY: &str = "vmlimitsboundary";

impl ImportBody {
    fn new(token: &str, village: i64, files: usize, size: usize) -> ImportBody {
        let prefix = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"village_id\"\r\n\r\n{village}\r\n"
        );
        let part_head = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        );
        ImportBody {
            prefix: Cursor::new(prefix.into_bytes()),
            files_left: files,
            size,
            sent_of_file: 0,
            part_head: part_head.into_bytes(),
            head_sent: 0,
            end: Cursor::new(format!("--{BOUNDARY}--\r\n").into_bytes()),
        }
    }

    fn len(token: &str, village: i64, files: usize, size: usize) -> u64 {
        let body = ImportBody::new(token, village, files, size);
        (body.prefix.get_ref().len()
            + files * (body.part_head.len() + size + 2)
            + body.end.get_ref().len()) as u64
    }
}

impl Read for ImportBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.prefix.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if self.files_left > 0 {
            if self.head_sent < self.part_head.len() {
                let rest = &self.part_head[self.head_sent..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                self.head_sent += n;
                return Ok(n);
            }
            if self.sent_of_file < self.size + 2 {
                let n = (self.size + 2 - self.sent_of_file).min(buf.len());
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    let at = self.sent_of_file + i;
                    // Lines of `1`s, then the CRLF that ends the part.
                    *b = if at == self.size {
                        b'\r'
                    } else if at == self.size + 1 || at % 64 == 63 {
                        b'\n'
                    } else {
                        b'1'
                    };
                }
                self.sent_of_file += n;
                return Ok(n);
            }
            self.files_left -= 1;
            self.sent_of_file = 0;
            self.head_sent = 0;
            return self.read(buf);
        }
        self.end.read(buf)
    }
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// The import page's token, for a browser already signed in.
fn import_token(browser: &Browser) -> String {
    csrf_token(&browser.text("/team/households/import").1).expect("token")
}

/// A server process of its own over the demo data, with the team member signed in and
/// one real import done (so that what is measured after is the refusal alone); and the
/// id of a village of theirs.
fn warm_server(backend: Backend) -> (Server, Browser, i64) {
    let server = Server::start(backend);
    let team = Browser::new(&server.base);
    assert_eq!(
        team.sign_in("team@example.com", PASSWORD).status(),
        StatusCode::SEE_OTHER
    );
    let village = {
        let page = team.text("/team/households/import").1;
        let at = page.find("<option value=\"").expect("a village") + "<option value=\"".len();
        page[at..]
            .split('"')
            .next()
            .expect("id")
            .parse::<i64>()
            .expect("village id")
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["户编号", "户主姓名", "常住人口", "类别"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    for (c, v) in ["LIM-1", "李明", "3", "一般户"].iter().enumerate() {
        sheet.write_string(1, c as u16, *v).expect("cell");
    }
    let (status, page) = upload(
        &team,
        village,
        "good.xlsx",
        book.save_to_buffer().expect("xlsx"),
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    (server, team, village)
}

/// Only the warm-up's household was written.
fn nothing_written(server: &Server) {
    let config = crate::support::test_config(&server.database);
    let pool = village_market::db::open_pool(&config.database_url, 1).expect("pool");
    let households = crate::support::scalar(
        &mut pool.get().expect("connection"),
        "SELECT COUNT(*) AS n FROM households WHERE code LIKE 'LIM-%' OR code LIKE 'PARTS-%'",
    );
    assert_eq!(households, 1, "only the warm-up household was written");
}

both_backends! {
    fn evil_registers_are_refused_before_their_cells_are_allocated(backend) {
        let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
            ("sparse A1 + XFD1048576 xlsx", "sparse.xlsx", sparse_xlsx((1_048_575, 16_383)), "XFD1048576"),
            ("sparse A1:XFD2048 xlsx", "wide.xlsx", sparse_xlsx((2_047, 16_383)), "XFD2048"),
            ("xlsx whose sheet unpacks to 1 GiB", "bomb.xlsx", zip_bomb_xlsx(None), "解压后有 1025 MB"),
            ("xlsx whose sheet unpacks to 1 GiB but declares 1 MiB", "liar.xlsx", zip_bomb_xlsx(Some(1 << 20)), "无法读取这个 Excel 文件"),
            ("10,000-column CSV", "wide.csv", wide_csv(470), "NTP1"),
        ];
        for (what, filename, bytes, named) in cases {
            // Each on a fresh server, so that no memory freed by one case is reused by
            // the next and hidden from the figures.
            let (mut server, team, village) = warm_server(backend);
            let size = bytes.len();
            let (status, page) = measured(&mut server, &format!("{what} ({size} bytes)"), || {
                upload(&team, village, filename, bytes)
            });
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {page}");
            assert!(page.contains(named), "{what}: the page names the problem ({named})");
            assert!(page.contains("什么都没有导入"), "{what}: nothing imported");
            nothing_written(&server);
        }
    }

    fn a_form_of_25_large_files_is_refused_holding_one(backend) {
        // 25 file parts of 9 MB each, sent without a length: refused once the form's
        // limit is reached, holding no more than that.
        let (mut server, team, village) = warm_server(backend);
        let token = import_token(&team);
        let url = format!("{}/team/households/import", server.base);
        let res = measured(&mut server, "25 file parts of 9 MB, chunked", || {
            team.client
                .post(url)
                .header("Content-Type", content_type())
                .body(reqwest::blocking::Body::new(ImportBody::new(&token, village, 25, 9 << 20)))
                .send()
        });
        match res {
            Ok(res) => {
                assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
                assert!(res.text().expect("page").contains("at most 11 MB"));
            }
            // The server may close the connection under the rest of the body.
            Err(e) => eprintln!("the 225 MB form was cut off: {e}"),
        }
        nothing_written(&server);
    }
}

/// Sends a request's head by hand and reads the answer's status line, with `body_sent`
/// bytes of the body (of the length declared) written first.
fn raw_status(base: &str, head: &str, body: &mut dyn Read, body_sent: usize) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("head");
    let mut sent = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while sent < body_sent {
        let n = body.read(&mut buf).expect("body");
        if n == 0 || stream.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n;
    }
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

both_databases! {
    fn a_form_too_large_or_of_too_many_parts_is_refused_before_it_is_read(app) {
        let team = app.signed_in("team@example.com");
        let village = village_id(app, "xiedian");
        let before = app.count("households");

        // Declared larger than any form: answered at once, before the body is sent.
        let (cookie, token) = session_cookie(app);
        let len = ImportBody::len(&token, village, 25, 9 << 20);
        let head = format!(
            "POST /team/households/import HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\
             Content-Type: {}\r\nContent-Length: {len}\r\n\r\n",
            content_type()
        );
        let started = std::time::Instant::now();
        let status = raw_status(&app.base, &head, &mut ImportBody::new(&token, village, 25, 9 << 20), 0);
        assert!(status.contains(" 413 "), "{status}");
        assert!(started.elapsed() < Duration::from_secs(10));

        // Many small file parts: refused at the ninth, naming the limit.
        let token = import_token(&team);
        let mut form = multipart::Form::new()
            .text("csrf_token", token)
            .text("village_id", village.to_string());
        for i in 0..25 {
            let csv = format!("户编号,户主姓名,常住人口,类别\nPARTS-{i},王{i},2,一般户\n");
            form = form.part("file", multipart::Part::bytes(csv.into_bytes()).file_name("r.csv"));
        }
        let res = team.client
            .post(format!("{}/team/households/import", team.base))
            .multipart(form)
            .send()
            .expect("upload");
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(res.text().expect("page").contains("at most 8 parts"));
        assert_eq!(app.count("households"), before, "nothing written");
    }
}

/// The session cookie of a team member signed in on a client without a cookie jar, and
/// the import form's token in that session.
fn session_cookie(app: &TestApp) -> (String, String) {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut cookie = String::new();
    let remember = |res: &reqwest::blocking::Response, cookie: &mut String| {
        for value in res.headers().get_all("set-cookie") {
            let value = value.to_str().expect("ascii");
            if let Some(pair) = value
                .split(';')
                .next()
                .filter(|p| p.starts_with("vm_session="))
            {
                *cookie = pair.to_string();
            }
        }
    };
    let res = client
        .get(format!("{}/login", app.base))
        .send()
        .expect("login page");
    remember(&res, &mut cookie);
    let token = csrf_token(&res.text().expect("page")).expect("token");
    let res = client
        .post(format!("{}/login", app.base))
        .header("Cookie", cookie.clone())
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "team@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .expect("sign in");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    remember(&res, &mut cookie);
    let res = client
        .get(format!("{}/team/households/import", app.base))
        .header("Cookie", cookie.clone())
        .send()
        .expect("import page");
    remember(&res, &mut cookie);
    let token = csrf_token(&res.text().expect("page")).expect("token");
    (cookie, token)
}

/// `path` answers 400 and the page names `field`.
fn refused_naming(browser: &Browser, path: &str, field: &str) {
    let (status, page) = browser.text(path);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {page}");
    // In Chinese, or in English once a `lang=en` has been remembered.
    let named = [
        format!("role=\"alert\">填写的内容有误：{field}</p>"),
        format!("role=\"alert\">Please check this field: {field}</p>"),
    ];
    assert!(
        named.iter().any(|n| page.contains(n)),
        "{path}: the page names {field}: {page}"
    );
}

/// Every query parameter of `path` (given as `name=value` pairs that work), each in turn
/// with a NUL in it, then with a tab, then 60,000 characters long.
fn every_parameter_refused(browser: &Browser, path: &str, params: &[(&str, &str)]) {
    let ok = |pairs: &[(&str, String)]| {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{path}?{}", query.join("&"))
    };
    let base: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let (status, page) = browser.text(&ok(&base));
    assert!(
        status.is_success(),
        "{path} works as given: {status} {page}"
    );
    for (i, (name, value)) in params.iter().enumerate() {
        for bad in [
            format!("{value}%00x"),
            format!("%09{value}"),
            "x".repeat(60_000),
        ] {
            let mut pairs = base.clone();
            pairs[i] = (name, bad);
            refused_naming(browser, &ok(&pairs), name);
        }
    }
}

both_databases! {
    fn control_characters_and_long_text_are_refused_naming_the_field(app) {
        let guest = app.browser();
        every_parameter_refused(&guest, "/products", &[("q", "杏"), ("category", "fruit"), ("county", "yunzhou"), ("page", "1")]);
        every_parameter_refused(&guest, "/", &[("lang", "en")]);
        refused_naming(&guest, "/villages/ta%00er", "slug");
        refused_naming(&guest, &format!("/villages/{}", "x".repeat(300)), "slug");
        refused_naming(&guest, "/orders/abc%00def", "token");
        refused_naming(&guest, "/static/app%00.css", "path");

        let team = app.signed_in("team@example.com");
        every_parameter_refused(&team, "/team/households", &[("q", "谢"), ("category", "tuopin"), ("archived", "1"), ("page", "1")]);
        every_parameter_refused(&team, "/team/households/export.csv", &[("q", "谢"), ("category", "tuopin")]);
        refused_naming(&team, "/team/households/export.c%00sv", "format");
        every_parameter_refused(&team, "/team/orders", &[("status", "paid"), ("channel", "store"), ("date", "2025-01-01")]);
        every_parameter_refused(&team, "/team/packing", &[("date", "2025-01-01"), ("format", "csv")]);
        every_parameter_refused(&team, "/team/stock", &[("product", "1")]);
        let household = app.scalar("SELECT MIN(id) AS n FROM households WHERE village_id IN (SELECT village_id FROM team_villages t JOIN users u ON u.id = t.user_id WHERE u.email = 'team@example.com')");
        every_parameter_refused(&team, &format!("/team/households/{household}/statement"), &[("from", "2025-01-01"), ("to", "2025-03-31")]);

        let cadre = app.signed_in("cadre@example.com");
        every_parameter_refused(&cadre, "/reports", &[("from", "2025-01"), ("to", "2025-03"), ("category", "tuopin"), ("sort", "income"), ("dir", "desc")]);

        // Forms: the sign-in email, a household field, a multipart field.
        let browser = app.browser();
        let res = browser.submit("/login", "/login", &[("email", "team\u{0}@example.com"), ("password", PASSWORD)]);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().expect("page").contains("填写的内容有误：email"));
        let households = app.count("households");
        let village = village_id(app, "xiedian");
        let res = team.submit("/team/households/new", "/team/households", &[
            ("village_id", &village.to_string()), ("code", "NUL-1"), ("head_name", "谢\u{0}民"),
            ("resident_members", "3"), ("category", "yiban"), ("phone", ""), ("payout_method", "cash"), ("payout_account", ""),
        ]);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().expect("page").contains("填写的内容有误：head_name"));
        let (status, page) = upload(&team, village, "r.csv", "户编号,户主姓名,常住人口,类别\nNUL-2,谢\u{0}民,2,一般户\n".as_bytes().to_vec());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
        assert!(page.contains("含有控制字符"), "the register names the cell");
        assert_eq!(app.count("households"), households, "nothing written");
    }
}
