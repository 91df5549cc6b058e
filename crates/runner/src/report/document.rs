//! A report as a list of blocks, rendered twice: to a self-contained HTML page (SVG plots, no
//! JavaScript, no network) and to Markdown (PNG plots) for repository browsers. Building the
//! content once guarantees both files say the same thing.

use std::fmt::Write as _;

use super::plots::PlotFiles;

/// One piece of report content.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    /// Heading of level 1..=4.
    Heading(u8, String),
    /// A paragraph of plain text.
    Para(String),
    /// A bulleted list of plain-text items.
    List(Vec<String>),
    /// A table with a header row.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A plot, with a sentence saying how to read it.
    Figure {
        files: PlotFiles,
        title: String,
        caption: String,
    },
    /// A highlighted remark (skipped plot, missing data).
    Note(String),
    /// Links to other files of the report.
    Links(Vec<(String, String)>),
    /// Content folded away in HTML; in Markdown replaced by a link to `md_link` when given.
    Details {
        summary: String,
        blocks: Vec<Block>,
        md_link: Option<String>,
    },
}

/// A whole page.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
}

fn esc(s: &str) -> String {
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

/// Anchor id for a heading.
fn anchor(s: &str) -> String {
    super::analysis::slugify(s)
}

const CSS: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1180px;margin:2em auto;\
padding:0 1em;color:#222;line-height:1.45}h1{border-bottom:2px solid #ccc}h2{margin-top:2em;\
border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:1em 0;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}\
tr:nth-child(even) td{background:#fafafa}figure{margin:1.5em 0}figure img{max-width:100%;\
border:1px solid #eee}figcaption{font-size:.9em;color:#555}.note{background:#fff8e1;\
border-left:4px solid #f0b400;padding:.5em 1em}details{margin:1em 0}summary{cursor:pointer;\
font-weight:bold}nav ul{columns:2}";

impl Document {
    /// The HTML page.
    pub fn to_html(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
            esc(&self.title),
            esc(&self.title)
        );
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
                let _ = writeln!(h, "<li><a href=\"#{}\">{}</a></li>", anchor(t), esc(t));
            }
            h.push_str("</ul></nav>\n");
        }
        html_blocks(&mut h, &self.blocks);
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

fn html_blocks(h: &mut String, blocks: &[Block]) {
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(h, "<h{level} id=\"{}\">{}</h{level}>", anchor(t), esc(t));
            }
            Block::Para(t) => {
                let _ = writeln!(h, "<p>{}</p>", esc(t));
            }
            Block::List(items) => {
                h.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(h, "<li>{}</li>", esc(i));
                }
                h.push_str("</ul>\n");
            }
            Block::Table { header, rows } => {
                h.push_str("<table>\n<tr>");
                for c in header {
                    let _ = write!(h, "<th>{}</th>", esc(c));
                }
                h.push_str("</tr>\n");
                for r in rows {
                    h.push_str("<tr>");
                    for c in r {
                        let _ = write!(h, "<td>{}</td>", esc(c));
                    }
                    h.push_str("</tr>\n");
                }
                h.push_str("</table>\n");
            }
            Block::Figure {
                files,
                title,
                caption,
            } => {
                let _ = writeln!(
                    h,
                    "<figure>\n<a href=\"{svg}\"><img src=\"{svg}\" alt=\"{t}\"></a>\n<figcaption>{c} (<a href=\"{png}\">PNG</a>)</figcaption>\n</figure>",
                    svg = esc(&files.svg),
                    png = esc(&files.png),
                    t = esc(title),
                    c = esc(caption)
                );
            }
            Block::Note(t) => {
                let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(t));
            }
            Block::Links(links) => {
                h.push_str("<p>");
                for (i, (text, href)) in links.iter().enumerate() {
                    if i > 0 {
                        h.push_str(" · ");
                    }
                    let _ = write!(h, "<a href=\"{}\">{}</a>", esc(href), esc(text));
                }
                h.push_str("</p>\n");
            }
            Block::Details {
                summary, blocks, ..
            } => {
                let _ = writeln!(h, "<details>\n<summary>{}</summary>", esc(summary));
                html_blocks(h, blocks);
                h.push_str("</details>\n");
            }
        }
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
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
                let _ = writeln!(
                    m,
                    "| {} |",
                    header
                        .iter()
                        .map(|c| md_cell(c))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(m, "|{}", " --- |".repeat(header.len()));
                for r in rows {
                    let _ = writeln!(
                        m,
                        "| {} |",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    );
                }
                m.push('\n');
            }
            Block::Figure {
                files,
                title,
                caption,
            } => {
                let _ = write!(
                    m,
                    "![{t}]({png})\n\n*{c}* ([SVG]({svg}))\n\n",
                    t = title.replace(['[', ']'], ""),
                    png = files.png,
                    svg = files.svg,
                    c = caption
                );
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
