//! `report --html FILE`: one self-contained page — the report's tables and every chart embedded as a PNG
//! data URI — that opens in any browser with no network.

use std::fmt::Write as _;

use base64::Engine as _;

use crate::plot::Chart;
use crate::report::Report;

/// The page.
pub fn html_report(report: &Report, charts: &[Chart], source: &str) -> String {
    let mut page = String::new();
    page.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>perpspread report</title>\n\
         <style>\nbody{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1300px}\n\
         pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:13px;line-height:1.35}\n\
         figure{margin:2em 0}figcaption{font-weight:600;margin-bottom:.5em}img{max-width:100%;border:1px solid #ddd}\n\
         </style>\n</head>\n<body>\n",
    );
    let _ = writeln!(page, "<h1>perpspread report</h1>\n<p>{}</p>", escape(source));
    page.push_str("<h2>Figures</h2>\n<pre>");
    page.push_str(&escape(&report.render_text()));
    page.push_str("</pre>\n");
    if !charts.is_empty() {
        page.push_str("<h2>Charts</h2>\n");
    }
    for chart in charts {
        let data = base64::engine::general_purpose::STANDARD.encode(&chart.png);
        let _ = writeln!(
            page,
            "<figure><figcaption>{}</figcaption><img alt=\"{}\" src=\"data:image/png;base64,{data}\"></figure>",
            escape(&chart.title),
            escape(&chart.file_name)
        );
    }
    page.push_str("</body>\n</html>\n");
    page
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ReportOptions;

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let report = Report::from_records(&[], None, &ReportOptions::default());
        let chart = Chart { file_name: "a.png".into(), title: "x < y & z".into(), png: vec![0x89, b'P', b'N', b'G'] };
        let page = html_report(&report, &[chart], "capture <1>.jsonl");
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("x &lt; y &amp; z") && page.contains("capture &lt;1&gt;.jsonl"));
        assert!(page.contains("data:image/png;base64,iVBORw=="), "{page}");
        assert!(!page.contains("http://") && !page.contains("https://"), "nothing fetched from a network");
    }
}
