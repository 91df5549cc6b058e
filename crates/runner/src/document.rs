//! A report as a list of blocks, rendered twice: to a self-contained HTML page (SVG plots, no
//! JavaScript, no network) and to Markdown (PNG plots) for repository browsers. Building the
//! content once guarantees both files say the same thing; the study report and the benchmark
//! report both build one, so they follow the same rendering rules.
//!
//! Block text is Markdown-flavoured: `code` and **bold** spans pass through to Markdown as they
//! are and become tags in HTML, where everything else is escaped.

use std::fmt::Write as _;

/// The two files of one plot, as links relative to the report directory.
#[derive(Debug, Clone)]
pub(crate) struct PlotFiles {
    /// Shown in HTML, where vector graphics stay sharp at any zoom.
    pub svg: String,
    /// Shown in Markdown, as repository browsers do not all display SVG.
    pub png: String,
}

/// One piece of report content.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    /// Heading of level 2..=4 (level 1 is the document's title).
    Heading(u8, String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table with a header row.
    Table {
        /// Column names.
        header: Vec<String>,
        /// Cells, row by row.
        rows: Vec<Vec<String>>,
    },
    /// A plot; with a caption it is a figure linking both formats, without one a bare image
    /// for reports whose tables already say what the chart shows.
    Figure {
        /// Where the plot's SVG and PNG are.
        files: PlotFiles,
        /// Alternative text.
        title: String,
        /// A sentence saying how to read the plot.
        caption: Option<String>,
    },
    /// A highlighted remark (skipped plot, missing data).
    Note(String),
    /// Links to other files of the report, as (text, href).
    Links(Vec<(String, String)>),
    /// Content folded away in HTML; in Markdown replaced by a link to `md_link` when given.
    Details {
        /// The always-visible line.
        summary: String,
        /// The folded content.
        blocks: Vec<Block>,
        /// A file holding the same content, for Markdown pages that cannot fold.
        md_link: Option<String>,
    },
}

/// A whole page: its title (the level-1 heading) and its content.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    /// The page title, also its only level-1 heading.
    pub title: String,
    /// The content below the title.
    pub blocks: Vec<Block>,
}

/// How a report's HTML page looks; Markdown leaves styling to the viewer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HtmlStyle {
    /// The contents of the page's `<style>` element.
    pub css: &'static str,
    /// Ids on headings and, past two sections, a table of contents: worth it on long pages.
    pub navigation: bool,
}

/// Lower-case ASCII letters, digits and `-` only: safe as a file name and as an HTML id.
pub(crate) fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "data".into() } else { out }
}

/// Escapes text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes block text for HTML, then turns its `code` and **bold** spans into tags, so the page
/// shows what a Markdown viewer shows for the same text. Attributes take [`escape`] instead:
/// they cannot hold tags.
fn inline(s: &str) -> String {
    let escaped = escape(s);
    let mut out = String::with_capacity(escaped.len());
    let mut code = false;
    let mut bold = false;
    let mut rest = escaped.as_str();
    while let Some(ch) = rest.chars().next() {
        if rest.starts_with("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[2..];
        } else if ch == '`' {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[1..];
        } else {
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    // An unmatched marker would leave a tag open: close it.
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

/// A table cell for Markdown: a `|` would end the cell and a newline the row.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Document {
    /// The HTML page.
    pub fn to_html(&self, style: &HtmlStyle) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
            escape(&self.title),
            style.css,
            inline(&self.title)
        );
        if style.navigation {
            let toc: Vec<&String> = self
                .blocks
                .iter()
                .filter_map(|b| match b {
                    Block::Heading(2, t) => Some(t),
                    _ => None,
                })
                .collect();
            if toc.len() > 2 {
                h.push_str("<nav><ul>\n");
                for t in toc {
                    let _ = writeln!(h, "<li><a href=\"#{}\">{}</a></li>", slugify(t), inline(t));
                }
                h.push_str("</ul></nav>\n");
            }
        }
        html_blocks(&mut h, &self.blocks, style);
        h.push_str("</body>\n</html>\n");
        h
    }

    /// The Markdown page.
    pub fn to_markdown(&self) -> String {
        let mut m = format!("# {}\n\n", self.title);
        md_blocks(&mut m, &self.blocks);
        m
    }
}

fn html_blocks(h: &mut String, blocks: &[Block], style: &HtmlStyle) {
    for b in blocks {
        match b {
            Block::Heading(level, t) if style.navigation => {
                let _ = writeln!(
                    h,
                    "<h{level} id=\"{}\">{}</h{level}>",
                    slugify(t),
                    inline(t)
                );
            }
            Block::Heading(level, t) => {
                let _ = writeln!(h, "<h{level}>{}</h{level}>", inline(t));
            }
            Block::Para(t) => {
                let _ = writeln!(h, "<p>{}</p>", inline(t));
            }
            Block::List(items) => {
                h.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(h, "<li>{}</li>", inline(i));
                }
                h.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                h.push_str("<table>\n<tr>");
                for c in header {
                    let _ = write!(h, "<th>{}</th>", inline(c));
                }
                h.push_str("</tr>\n");
                for r in rows {
                    h.push_str("<tr>");
                    for c in r {
                        let _ = write!(h, "<td>{}</td>", inline(c));
                    }
                    h.push_str("</tr>\n");
                }
                h.push_str("</table>\n");
            }
            Block::Figure {
                files,
                title,
                caption: Some(caption),
            } => {
                // The PNG is shown: it is drawn with depthlab's embedded font, so the page looks
                // the same everywhere, while an SVG's text falls back to the viewer's fonts.
                let _ = writeln!(
                    h,
                    "<figure>\n<a href=\"{svg}\"><img src=\"{png}\" alt=\"{t}\"></a>\n<figcaption>{c} (<a href=\"{svg}\">SVG, vector</a>)</figcaption>\n</figure>",
                    svg = escape(&files.svg),
                    png = escape(&files.png),
                    t = escape(title),
                    c = inline(caption)
                );
            }
            Block::Figure {
                files,
                title,
                caption: None,
            } => {
                let _ = writeln!(
                    h,
                    "<p><a href=\"{}\"><img src=\"{}\" alt=\"{}\"></a></p>",
                    escape(&files.svg),
                    escape(&files.png),
                    escape(title)
                );
            }
            Block::Note(t) => {
                let _ = writeln!(h, "<p class=\"note\">{}</p>", inline(t));
            }
            Block::Links(links) => {
                h.push_str("<p>");
                for (i, (text, href)) in links.iter().enumerate() {
                    if i > 0 {
                        h.push_str(" · ");
                    }
                    let _ = write!(h, "<a href=\"{}\">{}</a>", escape(href), inline(text));
                }
                h.push_str("</p>\n");
            }
            Block::Details {
                summary, blocks, ..
            } => {
                let _ = writeln!(h, "<details>\n<summary>{}</summary>", inline(summary));
                html_blocks(h, blocks, style);
                h.push_str("</details>\n");
            }
        }
    }
}

fn md_row(m: &mut String, cells: &[String]) {
    let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
    let _ = writeln!(m, "| {} |", cells.join(" | "));
}

fn md_blocks(m: &mut String, blocks: &[Block]) {
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = write!(m, "{} {t}\n\n", "#".repeat(usize::from(*level)));
            }
            Block::Para(t) => {
                let _ = write!(m, "{t}\n\n");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(m, "- {i}");
                }
                m.push('\n');
            }
            Block::Table { header, rows } => {
                md_row(m, header);
                let _ = writeln!(m, "|{}", " --- |".repeat(header.len()));
                for r in rows {
                    md_row(m, r);
                }
                m.push('\n');
            }
            Block::Figure {
                files,
                title,
                caption,
            } => {
                // Brackets would end the alternative text early.
                let _ = write!(m, "![{}]({})\n\n", title.replace(['[', ']'], ""), files.png);
                if let Some(c) = caption {
                    let _ = write!(m, "*{c}* ([SVG]({}))\n\n", files.svg);
                }
            }
            Block::Note(t) => {
                let _ = write!(m, "> **Note:** {t}\n\n");
            }
            Block::Links(links) => {
                let parts: Vec<String> = links.iter().map(|(t, h)| format!("[{t}]({h})")).collect();
                let _ = write!(m, "{}\n\n", parts.join(" · "));
            }
            Block::Details {
                summary,
                blocks,
                md_link,
            } => match md_link {
                Some(link) => {
                    let _ = write!(m, "{summary}: see [{link}]({link}).\n\n");
                }
                None => {
                    let _ = write!(m, "**{summary}**\n\n");
                    md_blocks(m, blocks);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: HtmlStyle = HtmlStyle {
        css: "",
        navigation: false,
    };
    const NAVIGABLE: HtmlStyle = HtmlStyle {
        css: "",
        navigation: true,
    };

    fn files(stem: &str) -> PlotFiles {
        PlotFiles {
            svg: format!("plots/{stem}.svg"),
            png: format!("plots/{stem}.png"),
        }
    }

    #[test]
    fn html_escapes_and_closes_spans() {
        assert_eq!(
            inline("a<b> `x` **y"),
            "a&lt;b&gt; <code>x</code> <strong>y</strong>"
        );
    }

    #[test]
    fn md_cells_keep_pipes_and_newlines_inside_the_cell() {
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
        let doc = Document {
            title: "t".into(),
            blocks: vec![Block::Table {
                header: vec!["x|y".into()],
                rows: vec![vec!["1\n2".into()]],
            }],
        };
        assert_eq!(doc.to_markdown(), "# t\n\n| x\\|y |\n| --- |\n| 1 2 |\n\n");
    }

    #[test]
    fn slugs_are_lower_case_words_joined_by_dashes() {
        assert_eq!(
            slugify("Dataset: XOR (label noise 0.2)"),
            "dataset-xor-label-noise-0-2"
        );
        assert_eq!(slugify("--"), "data");
    }

    #[test]
    fn navigation_adds_heading_ids_and_a_contents_list() {
        let doc = Document {
            title: "Report".into(),
            blocks: ["One", "Two", "Three"]
                .map(|t| Block::Heading(2, t.into()))
                .into(),
        };
        let nav = doc.to_html(&NAVIGABLE);
        assert!(
            nav.contains("<nav><ul>\n<li><a href=\"#one\">One</a></li>"),
            "{nav}"
        );
        assert!(nav.contains("<h2 id=\"three\">Three</h2>"), "{nav}");
        let plain = doc.to_html(&PLAIN);
        assert!(
            !plain.contains("<nav>") && !plain.contains(" id="),
            "{plain}"
        );
        assert!(plain.contains("<h1>Report</h1>\n<h2>One</h2>"), "{plain}");
    }

    #[test]
    fn figures_without_caption_are_bare_images() {
        let doc = Document {
            title: "t".into(),
            blocks: vec![
                Block::Figure {
                    files: files("a"),
                    title: "**a** [1]".into(),
                    caption: None,
                },
                Block::Figure {
                    files: files("b"),
                    title: "b".into(),
                    caption: Some("read `b`".into()),
                },
            ],
        };
        let md = doc.to_markdown();
        assert!(md.contains("![**a** 1](plots/a.png)\n\n![b]"), "{md}");
        assert!(md.contains("*read `b`* ([SVG](plots/b.svg))"), "{md}");
        let html = doc.to_html(&PLAIN);
        assert!(
            html.contains(
                "<p><a href=\"plots/a.svg\"><img src=\"plots/a.png\" alt=\"**a** [1]\"></a></p>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<figcaption>read <code>b</code> (<a href=\"plots/b.svg\">SVG, vector</a>)"
            ),
            "{html}"
        );
    }
}
